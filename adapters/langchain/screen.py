"""What a tool was invoked with, read without trusting its shape.

The model (or a provider layer, or another middleware) chooses the arguments: they may be
no JSON object at all (a JSON string, a list, null), have non-string names, or be nested
deeper than Python's recursion limit. ``BaseTool.run`` prints its input (``str()``) and
unpacks a tool call before the firewall sees it, so such input would raise inside
LangChain; it is handed to the firewall directly instead, which refuses (and audits) it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firewall.stages.shape import shape_problem
from firewall.stages.tools import MAX_ARGS_BYTES
from firewall.types import new_id

_KINDS = {str: "a string", list: "an array", tuple: "an array", bool: "a boolean"}


def args_problem(args: object) -> str | None:
    """Why ``args`` cannot be a call's arguments (a JSON object, names strings), else None."""
    if not isinstance(args, dict):
        return f"arguments must be a JSON object, not {_kind(args)}"
    odd = [key for key in args if not isinstance(key, str)]
    if odd:
        return f"argument names must be strings, not {_kind(odd[0])}"
    return None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def reply_id(model_id: object) -> str:
    """The id to answer a tool call with: the model's, as text; a fresh one if it gave none."""
    if model_id is None:
        return new_id("call")
    return model_id if isinstance(model_id, str) else str(model_id)


def printable(tool_input: object) -> bool:
    """Whether ``BaseTool.run`` can print ``tool_input`` (not too deep, not too large)."""
    named = tool_input if isinstance(tool_input, dict) else {"input": tool_input}
    return shape_problem(named, max_bytes=MAX_ARGS_BYTES) is None


@dataclass(frozen=True)
class ToolInput:
    """A tool's input as sent: the arguments, and the id to answer when it was a tool call."""

    args: Any
    tool_call_id: str | None = None
    unpackable: bool = True  # ``BaseTool.invoke`` can take it apart (else: straight to the gate)


def read_input(given: Any) -> ToolInput:
    """``given`` as arguments: a tool call's ``args`` (whatever they are), else ``given``."""
    if not (isinstance(given, dict) and given.get("type") == "tool_call"):
        return ToolInput(given)
    args, model_id = given.get("args"), given.get("id")
    unpackable = isinstance(args, dict) and isinstance(model_id, str)
    return ToolInput(args, reply_id(model_id), unpackable)
