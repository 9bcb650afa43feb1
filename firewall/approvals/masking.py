"""What an approver outside the firewall may see of a held call (and of a decision's reason).

Personal arguments (the tool's ``personal_args``) are partly masked; values under
secret-looking keys are removed entirely. Everywhere else, personal data found by the
firewall's detector (:mod:`firewall.pii.detect`: e-mail addresses, payment cards, IBANs,
national ids, phone numbers), and any long run of digits, is masked: in text, in numbers
(a card number given as an integer) and in mapping keys (an address used as a key).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from firewall.pii.detect import Detector, Finding, PiiKind

MASK = "\u2022\u2022\u2022"  # •••
REDACTED = "[redacted]"
SECRET_KEY = re.compile(
    r"pass(word|phrase)|secret|token|api_?key|auth|credential|private_?key|"
    r"card_?number|account_?number|(^|_)(pin|pan|cvv|cvc|ssn|iban|otp|pwd)(_|$)",
    re.IGNORECASE,
)
LONG_NUMBER = re.compile(r"\b(?:\d[ -]?){9,15}(\d{4})\b")
"""Account-like digit runs (13-19 digits) that fail the card check: masked all the same."""


@lru_cache(maxsize=1)
def _detector() -> Detector:
    return Detector()


def mask_text(text: str) -> str:
    """``text`` with detected personal data and long digit runs masked."""
    parts, cursor = [], 0
    for finding in _detector().find(text):
        parts += [text[cursor : finding.start], _masked(finding)]
        cursor = finding.end
    parts.append(text[cursor:])
    return LONG_NUMBER.sub(lambda m: f"{MASK} {m.group(1)}", "".join(parts))


def _masked(finding: Finding) -> str:
    value = finding.value
    if finding.kind is PiiKind.EMAIL:
        return f"{value[:1]}{MASK}@{MASK}"
    digits = "".join(ch for ch in value if ch.isdigit())
    if finding.kind in (PiiKind.CARD, PiiKind.NATIONAL_ID):
        return f"{MASK} {digits[-4:]}"
    if finding.kind is PiiKind.PHONE:
        return f"{MASK}{digits[-2:]}"
    return f"{value[:2]}{MASK}{value[-2:]}"  # IBAN: country and last two


def mask_identifier(value: object) -> str:
    """A personal value, masked: its first two characters at most, never its length."""
    text = str(value)
    keep = 2 if len(text) > 4 else 0
    return text[:keep] + MASK


def mask_args(args: Mapping[Any, Any], personal: Collection[str] = ()) -> dict[str, Any]:
    """A copy of ``args`` safe to show an approver in chat: values and keys masked.

    Two keys that mask alike stay two entries (`` (2)`` is added), so the approver
    sees as many entries as the call has.
    """
    masked: dict[str, Any] = {}
    for key, value in args.items():
        masked[_unique(mask_text(str(key)), masked)] = _mask_entry(str(key), value, personal)
    return masked


def _unique(shown: str, taken: Collection[str]) -> str:
    if shown not in taken:
        return shown
    number = 2
    while f"{shown} ({number})" in taken:
        number += 1
    return f"{shown} ({number})"


def _mask_entry(key: str, value: Any, personal: Collection[str]) -> Any:
    if SECRET_KEY.search(key.replace("-", "_")):
        return REDACTED
    if key in personal:
        return mask_identifier(value)
    return _mask_value(value, personal)


def _mask_value(value: Any, personal: Collection[str]) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return mask_args(value, personal)
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(item, personal) for item in value]
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        text = str(value)
        shown = mask_text(text)
        return value if shown == text else shown
    return value
