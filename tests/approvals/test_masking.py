"""What an approver sees of a held call: personal data masked in text, numbers and keys."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from firewall.approvals.masking import mask_args, mask_text

CARD = 4111111111111111
EMAIL = "jane.doe@example.com"


def _shown(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@pytest.mark.parametrize(
    "number", [CARD, float(CARD), Decimal(CARD), 5555555555554444, 1234567890123456]
)
def test_a_card_or_account_number_given_as_a_number_is_masked(number: object) -> None:
    shown = _shown(mask_args({"card": number, "nested": {"deep": [number]}}))
    assert str(number)[:12] not in shown
    assert str(int(number))[-4:] in shown  # type: ignore[call-overload]


def test_ordinary_numbers_and_booleans_stay_as_they_are() -> None:
    args = {"amount": 900, "ratio": 0.5, "exact": Decimal("12.50"), "urgent": True}
    assert mask_args(args) == args


def test_an_address_used_as_a_key_is_masked_and_no_entry_is_lost() -> None:
    args = {"contacts": {EMAIL: "primary", "john.doe@example.com": "backup", "x": 1}}
    masked = mask_args(args)["contacts"]
    assert "jane" not in _shown(masked)
    assert "example.com" not in _shown(masked)
    assert len(masked) == 3
    assert sorted(masked.values(), key=str) == sorted(["primary", "backup", 1], key=str)


def test_a_card_number_used_as_a_key_is_masked() -> None:
    assert "4111111111111111" not in _shown(mask_args({"4111111111111111": "refund"}))


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"customer {EMAIL} complained", "jane.doe"),
        ("card 4111 1111 1111 1111 was charged twice", "4111 1111 1111"),
        ("pay to DE89370400440532013000 today", "370400440532"),
        ("call her on +44 20 7946 0958", "7946"),
        ("call (415) 555-0132", "555-01"),
    ],
    ids=["email", "card", "iban", "phone-intl", "phone-national"],
)
def test_text_is_masked_by_the_firewalls_detector(text: str, secret: str) -> None:
    assert secret not in mask_text(text)


def test_text_without_personal_data_is_unchanged() -> None:
    text = "refund of 900 is above the auto-approve limit of 100 (order o-2, 2026-12-04)"
    assert mask_text(text) == text
