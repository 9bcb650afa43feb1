"""Hand a JSON-like Python value to a regopy interpreter as its ``input`` document.

The input goes over as Rego text (``Interpreter.set_input_term``), not through regopy's
builder (``regopy.Input``, the ``regoInput*`` C calls), because that builder changes it:

- it writes a float with C++ ``std::to_string``, six decimals: a refund of 100.0000004
  reaches the policy as 100, 1e-7 as 0;
- the arrays it builds lack the wrapper parsed arrays have, and ``json.marshal`` answers
  *undefined* for them, so a rule such as ``contains(json.marshal(input.args), x)``
  never fires once the arguments hold a list.

Parsed from text, the input is the document the policy's own tests (``with input as``)
and an OPA server see. Parsing costs more than building (a few hundred microseconds for
a typical input); a decision on the wrong number costs more. Values the engine cannot
hold exactly raise :class:`PolicyError` naming where they are, so the call is denied
rather than mis-read: NaN, integers outside 64 bits, floats rego-cpp would round (see
:func:`firewall.numbers.float_problem`), strings with NUL or a lone surrogate,
non-string keys, other types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from json.encoder import encode_basestring
from typing import Any

import regopy

from firewall.errors import PolicyError
from firewall.numbers import float_problem

_INT64 = (-(2**63), 2**63 - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")


class _NotJsonError(Exception):
    """A value that is not JSON; ``path`` grows as the error unwinds."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []


def set_input(interpreter: regopy.Interpreter, value: Any) -> None:
    """Make ``value`` the interpreter's ``input``; non-JSON values raise PolicyError."""
    try:
        text = input_text(value)
        interpreter.set_input_term(text)
    except _NotJsonError as exc:
        where = "input" + "".join(reversed(exc.path))
        raise PolicyError(f"policy input is not JSON: {where} {exc.problem}") from None
    except RecursionError:
        raise PolicyError("policy input is nested too deeply") from None
    except (regopy.RegoError, ValueError) as exc:
        raise PolicyError(f"policy input was refused by the Rego engine: {exc}") from exc


def input_text(value: Any) -> str:
    """``value`` as a Rego term (JSON, with ``{a, b}`` / ``set()`` for a set)."""
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def _write(value: Any, out: list[str]) -> None:
    kind = type(value)  # exact types first: a policy input is mostly str, dict and list
    if kind is str:
        out.append(_string(value))
    elif kind is dict:
        _write_items(value, out)
    elif kind is list or kind is tuple:
        _write_elements(value, "[", "]", out)
    elif value is None:
        out.append("null")
    else:
        _write_other(value, out)


def _write_other(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_string(str(value)))
    elif isinstance(value, Mapping):
        _write_items(value, out)
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise _NotJsonError("is an integer outside the 64-bit range")
        out.append(int.__repr__(value))  # not an IntEnum's own repr
    elif isinstance(value, float):
        problem = float_problem(value)
        if problem is not None:
            raise _NotJsonError(problem)
        out.append(float.__repr__(value))  # the shortest text that reads back as value
    elif isinstance(value, list | tuple):
        _write_elements(value, "[", "]", out)
    elif isinstance(value, Set):
        if value:
            _write_elements(list(value), "{", "}", out)
        else:
            out.append("set()")
    else:
        raise _NotJsonError(f"is a {type(value).__name__}, not a JSON value")


def _write_items(items: Mapping[Any, Any], out: list[str]) -> None:
    out.append("{")
    for index, (key, item) in enumerate(items.items()):
        if not isinstance(key, str):
            raise _NotJsonError(f"has a non-string key {key!r}")
        try:
            out.append(", " if index else "")
            out.append(_string(str(key)))
            out.append(": ")
            _write(item, out)
        except _NotJsonError as exc:
            exc.path.append(f".{key}")
            raise
    out.append("}")


def _write_elements(elements: Any, opening: str, closing: str, out: list[str]) -> None:
    out.append(opening)
    for index, element in enumerate(elements):
        try:
            out.append(", " if index else "")
            _write(element, out)
        except _NotJsonError as exc:
            exc.path.append(f"[{index}]")
            raise
    out.append(closing)


def _string(text: str) -> str:
    if "\0" in text:
        raise _NotJsonError("holds a NUL character")
    if _SURROGATE.search(text) is not None:
        raise _NotJsonError("holds a lone surrogate, which UTF-8 cannot carry")
    return str(encode_basestring(text))
