"""Hand a JSON-like Python value to a regopy interpreter as its ``input`` document.

``regopy.Input`` checks every node against the ``collections.abc`` classes and copies
each string into a fresh buffer; for a typical policy input that costs more than the
policy evaluation itself. This builder makes the same C calls with plain type checks
(about 2.5x faster) and falls back to ``regopy.Input`` if regopy's C binding changes.
Values that are not JSON (NaN, huge integers, strings with NUL, other types) raise
:class:`PolicyError` naming where they are, so the call is denied rather than mis-read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from typing import Any

import regopy
from regopy import rego_shared

from firewall.errors import PolicyError

_INT64 = (-(2**63), 2**63 - 1)
_C_FUNCTIONS = (
    "regoNewInput",
    "regoFreeInput",
    "regoSetInput",
    "regoInputString",
    "regoInputInt",
    "regoInputFloat",
    "regoInputBoolean",
    "regoInputNull",
    "regoInputObjectItem",
    "regoInputObject",
    "regoInputArray",
    "regoInputSet",
)
_lib: Any = getattr(rego_shared, "rego", None)
_CACHED_KEYS = 1024
_CACHED_LENGTH = 64
_ENCODED: dict[str, bytes] = {}  # UTF-8 of object keys already checked for NUL (not values)
NATIVE = _lib is not None and all(hasattr(_lib, name) for name in _C_FUNCTIONS)


class _NotJsonError(Exception):
    """A value that is not JSON; ``path`` grows as the error unwinds."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []


def set_input(interpreter: regopy.Interpreter, value: Any) -> None:
    """Make ``value`` the interpreter's ``input``; non-JSON values raise PolicyError."""
    try:
        if NATIVE:
            _set_native(interpreter, value)
        else:
            _check(value)
            interpreter.set_input(regopy.Input(value))
    except _NotJsonError as exc:
        where = "input" + "".join(reversed(exc.path))
        raise PolicyError(f"policy input is not JSON: {where} {exc.problem}") from None
    except RecursionError:
        raise PolicyError("policy input is nested too deeply") from None
    except (regopy.RegoError, ValueError) as exc:
        raise PolicyError(f"policy input was refused by the Rego engine: {exc}") from exc


def _set_native(interpreter: regopy.Interpreter, value: Any) -> None:
    handle = _lib.regoNewInput()
    try:
        _add(handle, value)
        if _lib.regoSetInput(interpreter._impl, handle) != 0:
            raise _NotJsonError("was refused by the Rego engine")
    finally:
        _lib.regoFreeInput(handle)


def _add(handle: Any, value: Any) -> None:
    kind = type(value)  # exact types first: a policy input is mostly str, dict and list
    if kind is str:
        status = _lib.regoInputString(handle, _encode(value))
    elif kind is dict:
        _add_items(handle, value)
        status = _lib.regoInputObject(handle, len(value))
    elif kind is list or kind is tuple:
        _add_elements(handle, value)
        status = _lib.regoInputArray(handle, len(value))
    elif value is None:
        status = _lib.regoInputNull(handle)
    else:
        status = _add_other(handle, value)
    if status != 0:
        raise _NotJsonError("was refused by the Rego engine")


def _add_other(handle: Any, value: Any) -> int:
    status: int
    if isinstance(value, str):
        status = _lib.regoInputString(handle, _encode(value))
    elif isinstance(value, Mapping):
        _add_items(handle, value)
        status = _lib.regoInputObject(handle, len(value))
    elif isinstance(value, bool):
        status = _lib.regoInputBoolean(handle, value)
    elif isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise _NotJsonError("is an integer outside the 64-bit range")
        status = _lib.regoInputInt(handle, value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJsonError(f"is {value}, which JSON cannot hold")
        status = _lib.regoInputFloat(handle, value)
    elif isinstance(value, list | tuple):
        _add_elements(handle, value)
        status = _lib.regoInputArray(handle, len(value))
    elif isinstance(value, Set):
        _add_elements(handle, list(value))
        status = _lib.regoInputSet(handle, len(value))
    else:
        raise _NotJsonError(f"is a {type(value).__name__}, not a JSON value")
    return status


def _add_items(handle: Any, items: Mapping[Any, Any]) -> None:
    add_string, add_item = _lib.regoInputString, _lib.regoInputObjectItem
    for key, item in items.items():
        if type(key) is not str and not isinstance(key, str):
            raise _NotJsonError(f"has a non-string key {key!r}")
        try:
            add_string(handle, _ENCODED.get(key) or _encode_key(key))
            _add(handle, item)
        except _NotJsonError as exc:
            exc.path.append(f".{key}")
            raise
        add_item(handle)


def _add_elements(handle: Any, elements: Any) -> None:
    for index, element in enumerate(elements):
        try:
            _add(handle, element)
        except _NotJsonError as exc:
            exc.path.append(f"[{index}]")
            raise


def _encode(text: str) -> bytes:
    if "\0" in text:
        raise _NotJsonError("holds a NUL character")
    return text.encode("utf-8")


def _encode_key(key: str) -> bytes:
    encoded = _encode(key)
    if len(key) <= _CACHED_LENGTH and len(_ENCODED) < _CACHED_KEYS:
        _ENCODED[str(key)] = encoded  # the same field names recur in every input
    return encoded


def _check(value: Any) -> None:
    """The same checks as the native builder, for the ``regopy.Input`` fallback."""
    if isinstance(value, Mapping):
        _check_items(value)
    elif isinstance(value, list | tuple | Set):
        for index, element in enumerate(value):
            try:
                _check(element)
            except _NotJsonError as exc:
                exc.path.append(f"[{index}]")
                raise
    elif isinstance(value, str):
        _encode(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise _NotJsonError(f"is {value}, which JSON cannot hold")
    elif isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        raise _NotJsonError("is an integer outside the 64-bit range")
    elif not isinstance(value, bool | int | float | type(None)):
        raise _NotJsonError(f"is a {type(value).__name__}, not a JSON value")


def _check_items(items: Mapping[Any, Any]) -> None:
    for key, item in items.items():
        if not isinstance(key, str):
            raise _NotJsonError(f"has a non-string key {key!r}")
        try:
            _encode(key)
            _check(item)
        except _NotJsonError as exc:
            exc.path.append(f".{key}")
            raise
