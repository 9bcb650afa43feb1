"""FirewallMiddleware inside create_agent: allowed calls run, refusals reach the model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from firewall.adapters.langchain import FirewallMiddleware
from firewall.adapters.langchain.middleware import thread_of
from firewall.examples.support_agent.agent import ScriptedChatModel
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from firewall.settings import GateSettings
from firewall.types import CALL_ID_PATTERN
from tests.gate_helpers import AGENT, make_rig

CONVERSATION: RunnableConfig = {"configurable": {"thread_id": "conversation-1"}}


def run_agent(
    tmp_path: Path, turns: list[AIMessage], **rig_options: Any
) -> tuple[list[ToolMessage], list[str]]:
    """Run a scripted create_agent; return its tool messages and what the tools executed."""
    rig = make_rig(tmp_path, **rig_options)
    executed: list[str] = []

    @tool
    def lookup(customer_id: str) -> str:
        """Look up a customer."""
        executed.append(f"lookup:{customer_id}")
        return f"customer {customer_id}"

    @tool
    def refund(order_id: str, amount: float) -> str:
        """Refund an order."""
        executed.append(f"refund:{order_id}")
        return "refunded"

    agent = create_agent(
        ScriptedChatModel(messages=iter(turns)),
        tools=[lookup, refund],
        middleware=[FirewallMiddleware(rig.firewall, AGENT)],
    )
    state = agent.invoke({"messages": [HumanMessage("help")]}, CONVERSATION)
    return [m for m in state["messages"] if isinstance(m, ToolMessage)], executed


def turn(name: str, call_id: str, **args: Any) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def test_allowed_and_refused_calls_in_one_agent_run(tmp_path: Path) -> None:
    turns = [
        turn("lookup", "c1", customer_id="c-1"),
        turn("lookup", "c2", customer_id=7),
        AIMessage(content="done"),
    ]
    (ok, bad_args), executed = run_agent(tmp_path, turns)
    assert ok.status == "success"
    assert ok.content == "customer c-1"
    assert bad_args.status == "error"
    assert "invalid_args" in str(bad_args.content)
    assert bad_args.additional_kwargs["firewall"]["code"] == "invalid_args"
    assert executed == ["lookup:c-1"]


def test_hold_in_return_mode_tells_the_model_it_is_pending(tmp_path: Path) -> None:
    turns = [turn("refund", "r1", order_id="o-1", amount=900.0), AIMessage(content="done")]
    [pending], executed = run_agent(tmp_path, turns, settings=GateSettings(hold_mode="return"))
    assert "pending approval hold_" in str(pending.content)
    assert pending.additional_kwargs["firewall"]["kind"] == "hold"
    assert executed == []


def test_firewall_call_id_is_the_models_tool_call_id(tmp_path: Path) -> None:
    turns = [turn("lookup", "call-abc", customer_id="c-1"), AIMessage(content="done")]
    run_agent(tmp_path, turns)
    assert {r.call_id for r in make_rig(tmp_path).records()} == {"call-abc"}


@pytest.mark.parametrize("model_id", ["x" * 300, "call 1", "call-ü", "toolu_\u200b01"])
def test_a_model_call_id_the_firewall_cannot_key_by_is_mapped_not_fatal(
    tmp_path: Path, model_id: str
) -> None:
    """The call runs, the answer carries the model's id, the audit a stable printable one.

    The model reused its id in a later turn: that is another call, with its own id.
    """
    turns = [
        turn("lookup", model_id, customer_id="c-1"),
        turn("lookup", model_id, customer_id=7),
        AIMessage(content="done"),
    ]
    (ok, refused), executed = run_agent(tmp_path, turns)
    assert executed == ["lookup:c-1"]
    assert (ok.tool_call_id, refused.tool_call_id) == (model_id, model_id)
    assert refused.status == "error"
    audited_ids = {r.call_id for r in make_rig(tmp_path).records()}
    assert len(audited_ids) == 2
    for audited_id in audited_ids:
        assert re.fullmatch(CALL_ID_PATTERN, audited_id)
        assert audited_id.startswith("call_")


def test_a_thread_id_that_is_no_session_name_maps_to_one_stable_session() -> None:
    odd = {"configurable": {"thread_id": "line\nbreak" + "x" * 300}}
    assert thread_of(odd) == thread_of(dict(odd))
    assert re.fullmatch(r"thread_[0-9a-f]{32}", thread_of(odd) or "")
    assert thread_of({"configurable": {"thread_id": 42}}) == "42"
    assert thread_of({"configurable": {"thread_id": ""}}) is None
    assert thread_of(None) is None
