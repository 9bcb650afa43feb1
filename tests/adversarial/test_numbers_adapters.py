"""Class 1 of issue 12 through LangChain: the firewall decides on the arguments the tool gets.

LangChain parses a tool's arguments with the tool's pydantic model before it runs:
strings become numbers, defaults fill in, undeclared arguments vanish. These attacks go
through ``create_agent`` with ``FirewallMiddleware`` and through ``guard_tools``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from firewall.adapters.langchain import FirewallMiddleware, guard_tools
from firewall.examples.support_agent.agent import ScriptedChatModel
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool

from firewall.policy.document import DecisionDocument
from firewall.policy.embedded import RegoEngine
from firewall.types import ToolSpec
from tests.adversarial.numbers_rig import (
    AGENT,
    REFUND,
    Target,
    build_target,
    write_echo_policy,
)

ADOPTING_REFUND = REFUND.model_copy(update={"args_schema": None})  # adopts the tool's own


class Recording:
    """The embedded engine, keeping each decision document it answered."""

    def __init__(self, inner: RegoEngine) -> None:
        self.inner = inner
        self.revision = inner.revision
        self.decisions: list[DecisionDocument] = []

    def evaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        decision = self.inner.evaluate(policy_input)
        self.decisions.append(decision)
        return decision

    async def aevaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        return self.evaluate(policy_input)

    def close(self) -> None:
        self.inner.close()


def refund_tool(received: list[dict[str, Any]]) -> BaseTool:
    @tool
    def issue_refund(order_id: str, amount: float, reason: str = "goodwill") -> str:
        """Refund (part of) an order."""
        received.append({"order_id": order_id, "amount": amount, "reason": reason})
        return "refunded"

    return issue_refund


def agent_run(target: Target, tools: list[BaseTool], **args: Any) -> ToolMessage:
    """One scripted agent turn calling ``tools[0]`` with ``args``; its tool message."""
    turns = [
        AIMessage(content="", tool_calls=[{"name": tools[0].name, "args": args, "id": "t1"}]),
        AIMessage(content="done"),
    ]
    agent = create_agent(
        ScriptedChatModel(messages=iter(turns)),
        tools=tools,
        middleware=[FirewallMiddleware(target.firewall, AGENT)],
    )
    state = agent.invoke(
        {"messages": [HumanMessage("refund please")]},
        {"configurable": {"thread_id": "thread-1"}},
    )
    [message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    return message


def guarded_run(target: Target, tools: list[BaseTool], **args: Any) -> ToolMessage:
    [guarded] = guard_tools(tools, target.firewall, AGENT, session_id="s-1")
    call = {"name": guarded.name, "args": args, "id": "t1", "type": "tool_call"}
    message: ToolMessage = guarded.invoke(call)
    return message


RUNNERS = {"middleware": agent_run, "guard_tools": guarded_run}


@pytest.fixture(params=sorted(RUNNERS))
def runner(request: pytest.FixtureRequest) -> Any:
    return RUNNERS[request.param]


@pytest.mark.parametrize("spec", [REFUND, ADOPTING_REFUND], ids=["declared", "adopted"])
def test_an_undeclared_argument_is_refused_not_dropped(
    tmp_path: Path, runner: Any, spec: ToolSpec
) -> None:
    received: list[dict[str, Any]] = []
    target = build_target(tmp_path, tools=(spec,))
    message = runner(
        target, [refund_tool(received)], order_id="o-5000", amount=50, amount_cents=900000
    )
    assert message.status == "error"
    assert "invalid_args" in str(message.content)
    assert "amount_cents" in str(message.content)
    assert received == []


@pytest.mark.parametrize("amount", [100.0000004, "100.0000004", 5000.0000004, "80.0000001"])
def test_an_amount_finer_than_cents_is_refused_however_written(
    tmp_path: Path, runner: Any, amount: Any
) -> None:
    received: list[dict[str, Any]] = []
    target = build_target(tmp_path, tools=(ADOPTING_REFUND,))
    message = runner(target, [refund_tool(received)], order_id="o-9000", amount=amount)
    assert message.status == "error"
    assert "invalid_args" in str(message.content)
    assert received == []


def test_an_amount_written_as_text_is_held_as_the_number_the_tool_gets(
    tmp_path: Path, runner: Any
) -> None:
    """The tool would refund 100.01 (pydantic reads the text): above 100, so it is held."""
    received: list[dict[str, Any]] = []
    target = build_target(tmp_path, tools=(ADOPTING_REFUND,))
    message = runner(target, [refund_tool(received)], order_id="o-5000", amount="100.01")
    assert "pending approval" in str(message.content)
    assert received == []


def test_the_policy_sees_the_defaults_and_coercions_the_tool_receives(
    tmp_path: Path, runner: Any
) -> None:
    """Read back through a policy that echoes its input: it held what the tool was given."""
    received: list[dict[str, Any]] = []
    engine = Recording(RegoEngine(write_echo_policy(tmp_path / "echo")))
    target = build_target(tmp_path, engine=engine, tools=(ADOPTING_REFUND,))
    message = runner(target, [refund_tool(received)], order_id="o-5000", amount="99.5")
    assert message.status == "success", message.content
    [decision] = engine.decisions
    [echo] = decision.obligations.redact
    assert received == [{"order_id": "o-5000", "amount": 99.5, "reason": "goodwill"}]
    assert json.loads(echo) == received[0]


def test_guard_tools_refuses_undeclared_arguments_beside_one_named_self(tmp_path: Path) -> None:
    """``self`` would collide with the wrapper's own parameter; the others are still refused."""
    received: list[dict[str, Any]] = []
    target = build_target(tmp_path, tools=(ADOPTING_REFUND,))
    args = {"order_id": "o-5000", "amount": 50, "self": 1, "amount_cents": 900000}
    message = guarded_run(target, [refund_tool(received)], **args)
    assert message.status == "error"
    assert "amount_cents" in str(message.content)
    assert received == []
