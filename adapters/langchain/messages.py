"""How firewall decisions reach the model: readable tool messages, never a crash."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from firewall.types import Deny, Hold


def refusal_message(decision: Deny | Hold, *, tool_call_id: str, tool: str) -> ToolMessage:
    """A denial becomes an error ``ToolMessage`` with its reasons; a pending hold says so."""
    status = "error" if isinstance(decision, Deny) else "success"
    return ToolMessage(
        content=decision.message(),
        tool_call_id=tool_call_id,
        name=tool,
        status=status,
        additional_kwargs={"firewall": decision.model_dump(mode="json")},
    )
