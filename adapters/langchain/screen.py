"""Tool inputs LangChain cannot even look at, caught before ``BaseTool.run`` sees them.

``BaseTool.run`` prints its input (``str()``) before parsing it, so arguments nested
deeper than Python's recursion limit would raise ``RecursionError`` inside LangChain,
and a list shared many times over would print for ever. Such arguments are handed to
the firewall directly, which refuses (and audits) them like any other bad arguments.
"""

from __future__ import annotations

from typing import Any

from firewall.stages.shape import shape_problem
from firewall.stages.tools import MAX_ARGS_BYTES


def unprintable_args(tool_input: Any) -> tuple[dict[str, Any], str | None] | None:
    """``(args, tool_call_id)`` of an input too deep or too large to print, else None."""
    is_tool_call = isinstance(tool_input, dict) and tool_input.get("type") == "tool_call"
    args = tool_input.get("args") if is_tool_call else tool_input
    if not isinstance(args, dict) or not all(isinstance(key, str) for key in args):
        return None
    if shape_problem(args, max_bytes=MAX_ARGS_BYTES) is None:
        return None
    return args, tool_input.get("id") if is_tool_call else None
