"""RFC 8785 canonical JSON, fast for the values audit records hold.

``rfc8785`` is pure Python (about 50 µs for a record). For values made only of objects,
arrays, strings, booleans, null and integers within ±(2**53 - 1), the standard library's
C encoder with sorted keys and no whitespace writes exactly the same bytes, so those take
the fast path; anything else (floats, characters outside the Basic Multilingual Plane,
whose UTF-16 key order differs) goes through ``rfc8785``. A hypothesis test holds the two
paths equal.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

from firewall.errors import AuditError

MAX_SAFE_INTEGER = 2**53 - 1
_SLOW_CHARACTERS = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)


def canonical(value: Any) -> str:
    """``value`` as RFC 8785 canonical JSON text; :class:`AuditError` if it has none."""
    if _fast_path_applies(value):
        return _ENCODER.encode(value)
    try:
        return rfc8785.dumps(value).decode("utf-8")
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise AuditError(f"audit data is not canonical JSON: {exc}") from exc


def _fast_path_applies(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str:
            if not _plain_string(item):
                return False
        elif kind is dict:
            for key, child in item.items():
                if type(key) is not str or not _plain_string(key):
                    return False
                pending.append(child)
        elif kind is list or kind is tuple:
            pending.extend(item)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return False
        elif item is not None and kind is not bool:
            return False
    return True


def _plain_string(text: str) -> bool:
    return text.isascii() or _SLOW_CHARACTERS.search(text) is None
