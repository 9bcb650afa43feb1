"""Canonical JSON (RFC 8785) and the digests built on it.

``rfc8785`` is pure Python (tens of µs for a small document, milliseconds for a large
one). For values made only of objects, arrays, strings, booleans, null and integers
within ±(2**53 - 1), the standard library's C encoder with sorted keys and no whitespace
writes exactly the same bytes, so those take the fast path; anything else (floats,
characters outside the Basic Multilingual Plane, whose UTF-16 key order differs) goes
through ``rfc8785``. A hypothesis test holds the two paths equal.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1
MAX_FAST_NODES = 100_000  # beyond this (or on a cycle), rfc8785 decides
_SLOW_CHARACTERS = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as RFC 8785 canonical JSON (sorted keys, fixed number format)."""
    if fast_path_applies(value):
        return _ENCODER.encode(value).encode("utf-8")
    return rfc8785.dumps(value)


def canonical_text(value: Any) -> str:
    """:func:`canonical_json` as text."""
    if fast_path_applies(value):
        return _ENCODER.encode(value)
    return rfc8785.dumps(value).decode("utf-8")


def fast_path_applies(value: Any) -> bool:
    """Whether the C encoder writes ``value`` exactly as RFC 8785 does."""
    pending = [value]
    budget = MAX_FAST_NODES
    while pending:
        budget -= 1
        if budget < 0:
            return False
        item = pending.pop()
        kind = type(item)
        if kind is str:
            if not (item.isascii() or _SLOW_CHARACTERS.search(item) is None):
                return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or not (
                    key.isascii() or _SLOW_CHARACTERS.search(key) is None
                ):
                    return False
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            pending.extend(item)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return False
        elif item is not None and kind is not bool:
            return False
    return True


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 over the canonical JSON of ``value``, as ``sha256:<hex>``."""
    return "sha256:" + sha256_hex(canonical_json(value))
