"""Which numbers every policy engine holds exactly, and what an amount of money may be.

A tool receives Python numbers; the policy compares the numbers its engine holds. They
must be the same, or a refund of 100.0000004 passes a ``<= 100`` rule as 100:

- Integers within +/-(2**53 - 1), the range RFC 8785 canonical JSON (the audit trail, the
  approval digest) and every JSON reader hold exactly.
- Finite floats written in at most 16 significant digits, and not subnormal: rego-cpp
  keeps a float as the double re-read from its 16-digit text (``0.30000000000000004``
  becomes ``0.3``) and cannot read a subnormal at all. An OPA server compares the
  JSON text exactly, which for these floats is the same value.

An amount of money (a tool's ``money_arg``) is stricter: a JSON number (not a string,
not a boolean) with at most the tool's ``money_precision`` decimal places, taken as
the decimal its shortest text writes (``19.99``, not the binary double nearest to it),
so the tool, the policy and the budget (which counts whole cents) see one amount.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from firewall.canonical import MAX_SAFE_INTEGER

SIGNIFICANT_DIGITS = 16
"""How many significant digits of a float rego-cpp keeps."""


def float_problem(value: float) -> str | None:
    """Why a policy engine would not hold ``value`` exactly; None if it would."""
    if not math.isfinite(value):
        return f"is {value}, which JSON cannot hold"
    if value != 0 and abs(value) < sys.float_info.min:
        return f"is {value!r}, a subnormal number the policy engine cannot hold"
    if float(f"{value:.{SIGNIFICANT_DIGITS}g}") != value:
        return (
            f"is {value!r}, which needs more than {SIGNIFICANT_DIGITS} significant digits;"
            f" the policy engine would see {float(f'{value:.{SIGNIFICANT_DIGITS}g}')!r}"
        )
    return None


def number_problem(value: int | float) -> str | None:
    """:func:`float_problem`, and for an integer whether it is a safe one."""
    if isinstance(value, float):
        return float_problem(value)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return f"is {value}, beyond +/-(2**53 - 1), the integers JSON holds exactly"
    return None


def inexact_number(args: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(argument, where in it, problem)`` of the first number a policy engine would not
    hold exactly, nested too; None if every number is held exactly."""
    pending: list[tuple[Any, str, str]] = [(value, name, "") for name, value in args.items()]
    while pending:
        value, name, where = pending.pop()
        if isinstance(value, int | float) and not isinstance(value, bool):
            problem = number_problem(value)
            if problem is not None:
                return name, where, problem
        elif isinstance(value, Mapping):
            pending.extend((item, name, f"{where}.{key}") for key, item in value.items())
        elif isinstance(value, list | tuple):
            pending.extend((item, name, f"{where}[{i}]") for i, item in enumerate(value))
    return None


def json_kind(value: Any) -> str:
    """``value``'s JSON type, with its article, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"


def money_problem(value: Any, places: int) -> str | None:
    """Why ``value`` is not an amount of money with at most ``places`` decimals; else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a JSON number, not {json_kind(value)}"
    problem = number_problem(value)
    if problem is not None:
        return problem
    amount = Decimal(repr(value))
    if abs(amount).scaleb(places) > MAX_SAFE_INTEGER:
        return f"is {value!r}, more than the largest amount the firewall counts exactly"
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        return (
            f"is {value!r}, finer than this tool's {places} decimal place(s)"
            " (money_precision); round the amount, or refuse it"
        )
    return None
