"""Find personal data in text: emails, phones, payment cards (Luhn), IBANs, national ids.

Recognizers are small and offline: regexes propose candidates, maintained validators
(``phonenumbers``, ``python-stdnum``) confirm them, so near-misses (a 16-digit number
failing Luhn, an IBAN with a bad check digit) are not reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn


class PiiKind(StrEnum):
    """What kind of personal data a finding is."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    CARD = "CARD"
    IBAN = "IBAN"
    NATIONAL_ID = "NATIONAL_ID"
    PERSONAL = "PERSONAL"  # a field the tool spec marks personal, whatever it holds


@dataclass(frozen=True)
class Finding:
    """One piece of personal data at ``text[start:end]``."""

    kind: PiiKind
    start: int
    end: int
    value: str


# The look-behind starts a match only where a local part can start: without it, a long
# run of local-part characters is rescanned from every position (quadratic time).
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)"
)


def _regex(
    kind: PiiKind, pattern: re.Pattern[str], valid: Callable[[str], bool]
) -> Callable[[str], Iterator[Finding]]:
    def find(text: str) -> Iterator[Finding]:
        for match in pattern.finditer(text):
            if valid(match.group()):
                yield Finding(kind, match.start(), match.end(), match.group())

    return find


def _card_ok(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _phone_ok(region: str) -> Callable[[str], bool]:
    """A cheap regex proposes; libphonenumber decides (7x faster than its own matcher)."""

    def valid(candidate: str) -> bool:
        if not 7 <= sum(ch.isdigit() for ch in candidate) <= 15:
            return False
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            return False
        if not phonenumbers.is_possible_number(number):
            return False
        if candidate.lstrip("(").startswith("+"):
            return phonenumbers.is_valid_number(number)
        # A national number: checking its one region skips the scan of every region that
        # shares the country code (25 for +1), the bulk of the cost.
        return phonenumbers.is_valid_number_for_region(number, region)

    return valid


class Detector:
    """Runs every recognizer and resolves overlaps (earliest, then longest, wins)."""

    def __init__(self, default_region: str = "US") -> None:
        self._recognizers = (
            _regex(PiiKind.EMAIL, EMAIL, lambda _value: True),
            _regex(PiiKind.CARD, CARD, _card_ok),
            _regex(PiiKind.IBAN, IBAN, iban.is_valid),
            _regex(PiiKind.NATIONAL_ID, SSN, ssn.is_valid),
        )
        self._phone_ok = _phone_ok(default_region)

    def find(self, text: str) -> list[Finding]:
        """All non-overlapping findings in ``text``, in order."""
        found = list(_non_overlapping(f for r in self._recognizers for f in r(text)))
        taken = [(f.start, f.end) for f in found]
        for match in PHONE.finditer(text):
            inside = any(start < match.end() and match.start() < end for start, end in taken)
            if not inside and self._phone_ok(match.group()):
                found.append(Finding(PiiKind.PHONE, match.start(), match.end(), match.group()))
        return sorted(found, key=lambda f: f.start)


def _non_overlapping(findings: Iterable[Finding]) -> Iterator[Finding]:
    end = -1
    for finding in sorted(findings, key=lambda f: (f.start, -(f.end - f.start))):
        if finding.start >= end:
            end = finding.end
            yield finding
