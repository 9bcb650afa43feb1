"""An agent whose model sends what a test scripts, its tools behind the firewall, its audit log.

The model is langchain-core's fake chat model; the agent is ``create_agent`` with the tools
wrapped by ``guard_tools``, or given to ``FirewallMiddleware`` / ``FirewallInterruptMiddleware``.
``Reshaper`` stands for a provider layer or an outer middleware that hands a tool call on as
it came (arguments as a JSON string, no id...), shapes ``AIMessage`` itself would not accept.
The audit log is read back with plain SQL, as an auditor would.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from firewall.adapters.langchain import (
    FirewallInterruptMiddleware,
    FirewallMiddleware,
    guard_tools,
)
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver

from tests.gate_helpers import AGENT, Rig, make_rig

Wiring = Literal["guard_tools", "middleware", "interrupt"]
WIRINGS: tuple[Wiring, ...] = ("guard_tools", "middleware", "interrupt")
MIDDLEWARES: tuple[Wiring, ...] = ("middleware", "interrupt")
UNCHECKPOINTED: tuple[Wiring, ...] = ("guard_tools", "middleware")
"""Wirings without a checkpointer: LangGraph's checkpointer cannot even store a model message
nested 500 deep or keyed by a lone surrogate, so the run stops before any tool is called."""
CONFIG = {"configurable": {"thread_id": "thread-1"}}


class ScriptedModel(GenericFakeChatModel):
    """The fake chat model, standing in for a tool-calling model: its turns as scripted."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self


class Reshaper(AgentMiddleware[Any, Any]):
    """Hands every tool call on with ``reshape`` applied (outermost, before the firewall)."""

    def __init__(self, reshape: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        super().__init__()
        self._reshape = reshape

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Any]
    ) -> Any:
        return handler(request.override(tool_call=self._reshape(dict(request.tool_call))))

    async def awrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Awaitable[Any]]
    ) -> Any:
        return await handler(request.override(tool_call=self._reshape(dict(request.tool_call))))


@dataclass
class AgentRun:
    """What one agent run left: its messages, what the tools executed, the audit database."""

    messages: list[BaseMessage]
    ran: list[str]
    db: Path
    rig: Rig
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tool_messages(self) -> list[ToolMessage]:
        return [m for m in self.messages if isinstance(m, ToolMessage)]

    @property
    def finished(self) -> bool:
        """The run went on to the model's final answer."""
        last = self.messages[-1]
        return isinstance(last, AIMessage) and last.content == "done"


def lookup_tool(ran: list[str]) -> BaseTool:
    @tool
    def lookup(customer_id: str) -> str:
        """Look up a customer."""
        ran.append(customer_id)
        return f"customer {customer_id}"

    return lookup


def turn(*calls: dict[str, Any]) -> AIMessage:
    """A model turn asking for ``calls`` (each a tool call dict, built as the model sent it)."""
    return AIMessage(content="", tool_calls=list(calls))


def build_agent(
    tmp_path: Path,
    wiring: Wiring,
    turns: list[AIMessage],
    reshape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[Any, Rig, list[str]]:
    """``create_agent`` over the scripted model, its lookup tool behind the firewall."""
    rig = make_rig(tmp_path)
    ran: list[str] = []
    lookup = lookup_tool(ran)
    model = ScriptedModel(messages=iter([*turns, AIMessage(content="done")]))
    outer: list[AgentMiddleware[Any, Any]] = [Reshaper(reshape)] if reshape else []
    if wiring == "guard_tools":
        agent = create_agent(
            model, tools=guard_tools([lookup], rig.firewall, AGENT), middleware=outer
        )
    elif wiring == "middleware":
        firewall = FirewallMiddleware(rig.firewall, AGENT)
        agent = create_agent(model, tools=[lookup], middleware=[*outer, firewall])
    else:
        paused = FirewallInterruptMiddleware(rig.firewall, AGENT, settle_s=0.05)
        agent = create_agent(
            model,
            tools=[lookup],
            middleware=[*outer, paused],
            checkpointer=InMemorySaver(),
        )
    return agent, rig, ran


def run_agent(
    tmp_path: Path,
    wiring: Wiring,
    turns: list[AIMessage],
    reshape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> AgentRun:
    """Run the agent once, synchronously."""
    agent, rig, ran = build_agent(tmp_path, wiring, turns, reshape)
    state = agent.invoke({"messages": [HumanMessage("help")]}, CONFIG)
    return AgentRun(state["messages"], ran, tmp_path / "firewall.db", rig)


async def arun_agent(
    tmp_path: Path,
    wiring: Wiring,
    turns: list[AIMessage],
    reshape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> AgentRun:
    """Run the agent once, asynchronously."""
    agent, rig, ran = build_agent(tmp_path, wiring, turns, reshape)
    state = await agent.ainvoke({"messages": [HumanMessage("help")]}, CONFIG)
    return AgentRun(state["messages"], ran, tmp_path / "firewall.db", rig)


def audited(db: Path, event: str = "decision") -> list[dict[str, Any]]:
    """The entries of the log's ``event`` records, in chain order, read with plain SQL."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT body FROM audit_records WHERE event = ? ORDER BY seq", (event,)
        ).fetchall()
    return [json.loads(body)["entry"] for (body,) in rows]


def refusals(db: Path) -> list[tuple[str | None, str | None]]:
    """``(tool, code)`` of every decision record that denied a call."""
    return [(e["tool"], e["code"]) for e in audited(db) if e["outcome"] == "deny"]
