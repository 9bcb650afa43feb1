"""What the valid-arguments stage asks of each argument beyond its JSON Schema.

Each check answers with the reason a call is refused, naming the argument, or None: the
argument is one the tool declares (:mod:`firewall.declared`), every number in it is one
the policy engine holds exactly, and the amount of money has the tool's precision
(:mod:`firewall.numbers`). Together they make the policy decide on what the tool gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firewall.declared import undeclared
from firewall.numbers import inexact_number, money_problem
from firewall.stages.naming import quoted
from firewall.types import ToolSpec

MAX_LISTED = 5


def undeclared_problem(spec: ToolSpec, args: Mapping[str, Any]) -> str | None:
    """Why arguments the tool does not declare are refused; None if there are none."""
    names = undeclared(spec.args_schema, args)
    if not names:
        return None
    listed = ", ".join(quoted(name) for name in names[:MAX_LISTED])
    listed += ", ..." if len(names) > MAX_LISTED else ""
    which = f"argument {listed} is" if len(names) == 1 else f"arguments {listed} are"
    if spec.args_schema is None:
        return (
            f"{which} not allowed: tool {spec.name!r} has no args_schema, so it declares no"
            " arguments; declare args_schema in its [[tools]] entry, or guard the tool"
            " with guard_tools or FirewallMiddleware, which adopt its schema"
        )
    declared = sorted(spec.args_schema.get("properties") or ())
    takes = ", ".join(repr(name) for name in declared) or "none"
    return f"{which} not allowed: tool {spec.name!r} does not declare it (it takes: {takes})"


def number_problem_text(args: Mapping[str, Any]) -> str | None:
    """Why a number in ``args`` is refused (the engine would hold another); else None."""
    found = inexact_number(args)
    if found is None:
        return None
    name, where, problem = found
    at = f" at {quoted(where)}" if where else ""
    return f"argument {quoted(name)} holds a number{at} that {problem}"


def money_problem_text(spec: ToolSpec, args: Mapping[str, Any]) -> str | None:
    """Why the tool's amount of money is refused; None if it has none or it is fine."""
    if spec.money_arg is None or spec.money_arg not in args:
        return None
    problem = money_problem(args[spec.money_arg], spec.money_precision)
    if problem is None:
        return None
    return f"argument {spec.money_arg!r} (the amount of money) {problem}"
