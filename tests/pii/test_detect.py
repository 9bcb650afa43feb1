"""PII detection: real values are found, near-misses are not."""

from __future__ import annotations

import pytest

from firewall.pii.detect import Detector, PiiKind

DETECTOR = Detector()


def kinds(text: str) -> list[tuple[PiiKind, str]]:
    return [(f.kind, f.value) for f in DETECTOR.find(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("write to ada.l+x@mail.example.co.uk now", PiiKind.EMAIL, "ada.l+x@mail.example.co.uk"),
        ("card 4111 1111 1111 1111 on file", PiiKind.CARD, "4111 1111 1111 1111"),
        ("card 5500-0000-0000-0004.", PiiKind.CARD, "5500-0000-0000-0004"),
        ("amex 378282246310005", PiiKind.CARD, "378282246310005"),
        ("iban GB82 WEST 1234 5698 7654 32 ok", PiiKind.IBAN, "GB82 WEST 1234 5698 7654 32"),
        ("iban DE89370400440532013000", PiiKind.IBAN, "DE89370400440532013000"),
        ("ssn 536-90-4399", PiiKind.NATIONAL_ID, "536-90-4399"),
        ("call +1 415-555-2671 today", PiiKind.PHONE, "+1 415-555-2671"),
        ("call (415) 555-2671", PiiKind.PHONE, "(415) 555-2671"),
        ("uk +44 20 7946 0958", PiiKind.PHONE, "+44 20 7946 0958"),
    ],
)
def test_detects(text: str, kind: PiiKind, value: str) -> None:
    assert (kind, value) in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 fails Luhn",
        "iban GB82 WEST 1234 5698 7654 33 has a bad check digit",
        "ssn 000-12-3456 has an area of 000",
        "order 2026-11-23 shipped",
        "order number 12345",
        "version 1.2.3.4",
        "no at sign: ada(at)example.com",
    ],
)
def test_near_misses_are_not_reported(text: str) -> None:
    assert kinds(text) == []


def test_overlapping_matches_yield_one_finding_each() -> None:
    found = kinds("ada@example.com 4111111111111111 +1 415-555-2671")
    assert [kind for kind, _ in found] == [PiiKind.EMAIL, PiiKind.CARD, PiiKind.PHONE]
