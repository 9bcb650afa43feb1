"""Stages that need only the tool registry: known tool, valid arguments, scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from firewall.canonical import canonical_json
from firewall.registry import ToolRegistry
from firewall.stages.arguments import money_problem_text, number_problem_text, undeclared_problem
from firewall.stages.base import CallContext
from firewall.stages.naming import describe_unknown_tool, quoted
from firewall.stages.shape import shape_problem
from firewall.types import Deny, DenyCode

MAX_ARGS_BYTES = 64 * 1024
MAX_MESSAGE = 200


class KnownTool:
    """Deny any tool the firewall was not told about (deny by default)."""

    name = "known_tool"

    def __init__(self, tools: ToolRegistry) -> None:
        self._tools = tools

    def check(self, ctx: CallContext) -> Deny | None:
        spec = self._tools.get(ctx.call.tool)
        if spec is None:
            reason = describe_unknown_tool(ctx.call.tool, self._tools)
            return ctx.deny(DenyCode.UNKNOWN_TOOL, reason)
        ctx.spec = spec
        return None


class ValidArgs:
    """Arguments must be canonical JSON, not oversized or too deep, declared by the tool,
    hold only numbers the policy engine holds exactly, and satisfy the JSON Schema."""

    name = "valid_args"

    def __init__(self, tools: ToolRegistry, max_bytes: int = MAX_ARGS_BYTES) -> None:
        self._tools = tools
        self._max_bytes = max_bytes

    def check(self, ctx: CallContext) -> Deny | None:
        spec, args = ctx.tool_spec, ctx.call.args
        # Bounds depth and size first: the encoder and everything after it recurse.
        problem = (
            shape_problem(args, max_bytes=self._max_bytes)
            or self._encoding_problem(ctx)
            or undeclared_problem(spec, args)
            or number_problem_text(args)
            or self._schema_problem(spec.name, args)
            or money_problem_text(spec, args)
        )
        if problem is None:
            return None
        return ctx.deny(DenyCode.INVALID_ARGS, f"invalid arguments for {ctx.call.tool}: {problem}")

    def _encoding_problem(self, ctx: CallContext) -> str | None:
        try:
            ctx.args_json = canonical_json(ctx.call.args)
        except (ValueError, TypeError) as exc:
            return f"{_culprit(ctx.call.args)} not representable as JSON ({exc})"
        size = len(ctx.args_json)
        if size > self._max_bytes:
            return f"arguments are {size} bytes, over the {self._max_bytes}-byte limit"
        return None

    def _schema_problem(self, tool: str, args: Mapping[str, Any]) -> str | None:
        error = jsonschema.exceptions.best_match(self._tools.validator(tool).iter_errors(args))
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path) or "(arguments)"
        message = error.message  # quotes the offending value, which may be 60 KB long
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + "..."
        return f"field {quoted(where)}: {message}"


def _culprit(args: Mapping[str, Any]) -> str:
    """Which argument has no JSON form (the arguments are size- and depth-bounded here)."""
    for name, value in args.items():
        try:
            canonical_json(value)
        except (ValueError, TypeError):
            return f"argument {quoted(name)} is"
    return "the arguments are"


def scope_covers(held: str, required: str) -> bool:
    """``crm:*`` covers ``crm:read``; otherwise scopes must match exactly."""
    if held == required:
        return True
    return held.endswith(":*") and required.startswith(held[:-1])


class ScopeCheck:
    """The principal's scopes must cover the tool's scope."""

    name = "scope"

    def check(self, ctx: CallContext) -> Deny | None:
        required = ctx.tool_spec.scope
        if any(scope_covers(held, required) for held in ctx.call.principal.scopes):
            return None
        return ctx.deny(
            DenyCode.MISSING_SCOPE,
            f"agent {ctx.call.principal.agent_id!r} lacks scope {required!r}"
            f" required by tool {ctx.tool_spec.name!r}",
        )
