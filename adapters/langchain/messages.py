"""How firewall decisions reach the model: readable tool messages, never a crash."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from firewall.types import Deny, Hold


def refusal_message(decision: Deny | Hold, *, tool_call_id: str, tool: str) -> ToolMessage:
    """A denial becomes an error ``ToolMessage`` with its reasons; a pending hold says so.

    Either way the tool did not run, so the status is "error": a "success" would tell the
    model (and anything reading the thread) that the call happened.
    """
    return ToolMessage(
        content=decision.message(),
        tool_call_id=tool_call_id,
        name=tool,
        status="error",
        additional_kwargs={"firewall": decision.model_dump(mode="json")},
    )
