"""The demo agent: a scripted chat model (no LLM key) driving ``create_agent``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from firewall.adapters.langchain import FirewallMiddleware
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph

from firewall.gate import Firewall
from firewall.types import Principal, new_id

SCRIPT: tuple[tuple[str, dict[str, Any]], ...] = (
    ("crm_lookup", {"customer_id": "c-100"}),
    ("crm_lookup", {"customer_id": "c-900"}),
    ("issue_refund", {"order_id": "o-1", "amount": 25.0, "reason": "damaged item"}),
    ("issue_refund", {"order_id": "o-2", "amount": 450.0, "reason": "late delivery"}),
    ("charge_card", {"customer_id": "c-100", "amount": 99.0, "description": "express shipping"}),
    ("crm_lookup", {"customer_id": "c-100"}),
    ("crm_lookup", {"customer_id": "c-100"}),
    ("crm_lookup", {"customer_id": "c-100"}),
    ("read_ticket", {"ticket_id": "t-7"}),
    ("issue_refund", {"order_id": "o-1", "amount": 20.0, "reason": "as the ticket says"}),
)

PRINCIPAL = Principal(
    agent_id="support-bot-1",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write", "tickets:read"}),
    on_behalf_of="customer:c-100",
    requested_by="bob",
)


class ScriptedChatModel(GenericFakeChatModel):
    """langchain-core's fake chat model, able to stand in for a tool-calling model."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self


def scripted_turns(script: Sequence[tuple[str, dict[str, Any]]]) -> list[AIMessage]:
    """One tool call per model turn, then a closing answer."""
    turns = [
        AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": new_id("call")}])
        for name, args in script
    ]
    turns.append(AIMessage(content="All requests handled."))
    return turns


def build_agent(
    firewall: Firewall, tools: Sequence[BaseTool], turns: Sequence[AIMessage]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``create_agent`` with the firewall as middleware around every tool call."""
    model = ScriptedChatModel(messages=iter(turns))
    return create_agent(
        model, tools=list(tools), middleware=[FirewallMiddleware(firewall, PRINCIPAL)]
    )
