"""What an approver outside the firewall may see of a held call's arguments.

Personal arguments (the tool's ``personal_args``) are partly masked; values under
secret-looking keys are removed entirely; e-mail addresses, card numbers and phone
numbers are masked wherever they appear in text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

MASK = "\u2022\u2022\u2022"  # •••
REDACTED = "[redacted]"
SECRET_KEY = re.compile(
    r"pass(word|phrase)|secret|token|api_?key|auth|credential|private_?key|"
    r"card_?number|account_?number|(^|_)(pin|pan|cvv|cvc|ssn|iban|otp|pwd)(_|$)",
    re.IGNORECASE,
)
EMAIL = re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+-]*@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
CARD = re.compile(r"\b(?:\d[ -]?){9,15}(\d{4})\b")
PHONE = re.compile(r"\+\d[\d ()./-]{6,}(\d{2})\b|\(\d{3}\) ?\d{3}-\d{2}(\d{2})\b")


def mask_text(text: str) -> str:
    """``text`` with e-mail addresses, card and phone numbers masked."""
    text = EMAIL.sub(lambda m: f"{m.group(1)}{MASK}@{MASK}", text)
    text = CARD.sub(lambda m: f"{MASK} {m.group(1)}", text)
    return PHONE.sub(lambda m: f"{MASK}{m.group(1) or m.group(2)}", text)


def mask_identifier(value: object) -> str:
    """A personal value, masked: its first two characters at most, never its length."""
    text = str(value)
    keep = 2 if len(text) > 4 else 0
    return text[:keep] + MASK


def mask_args(args: Mapping[str, Any], personal: Collection[str] = ()) -> dict[str, Any]:
    """A copy of ``args`` safe to show an approver in chat."""
    return {key: _mask_entry(key, value, personal) for key, value in args.items()}


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
    if isinstance(value, list | tuple):
        return [_mask_value(item, personal) for item in value]
    return value
