"""guard_tools: same tool surface, every call through the firewall, denials as messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from firewall.adapters.langchain import guard_tools
from firewall.examples.support_agent.agent import PRINCIPAL, ScriptedChatModel
from firewall.examples.support_agent.backends import Backends
from firewall.examples.support_agent.run import demo_config
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver

from firewall.audit.keyfiles import ensure_dev_key
from firewall.errors import ConfigError
from firewall.factory import build_firewall
from tests.gate_helpers import AGENT, TOOLS, Rig, make_rig

MAIL_TO_SHOWN_ADDRESS = {"to": "$EMAIL", "subject": "Your refund", "body": "On its way."}


def lookup_tool(calls: list[str]) -> BaseTool:
    @tool
    def lookup(customer_id: str) -> dict[str, Any]:
        """Look up a customer."""
        calls.append(customer_id)
        return {"customer_id": customer_id, "tier": "gold"}

    return lookup


def pay_tool(calls: list[str]) -> BaseTool:
    @tool
    def pay(amount: float) -> str:
        """Charge the card."""
        calls.append(str(amount))
        return "charged"

    return pay


def tool_call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"tc-{name}", "type": "tool_call"}


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path)


def test_guarded_tool_keeps_name_description_and_schema(rig: Rig) -> None:
    original = lookup_tool([])
    [guarded] = guard_tools([original], rig.firewall, AGENT, session_id="s-1")
    assert guarded.name == original.name
    assert guarded.description == original.description
    assert guarded.args == original.args
    assert guarded.tool_call_schema.model_json_schema() == (
        original.tool_call_schema.model_json_schema()
    )


def test_allowed_call_returns_the_tools_result(rig: Rig) -> None:
    calls: list[str] = []
    [guarded] = guard_tools([lookup_tool(calls)], rig.firewall, AGENT, session_id="s-1")
    message = guarded.invoke(tool_call("lookup", customer_id="c-7"))
    assert isinstance(message, ToolMessage)
    assert message.status == "success"
    assert "gold" in str(message.content)
    assert calls == ["c-7"]
    assert [r.event for r in rig.records()] == ["decision", "outcome"]


def test_denied_call_becomes_an_error_message_and_does_not_run(rig: Rig) -> None:
    calls: list[str] = []
    [guarded] = guard_tools([pay_tool(calls)], rig.firewall, AGENT, session_id="s-1")
    message = guarded.invoke(tool_call("pay", amount=10.0))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert "payments are closed today" in str(message.content)
    assert calls == []


async def test_async_invoke_goes_through_the_firewall(rig: Rig) -> None:
    calls: list[str] = []
    allowed, denied = guard_tools(
        [lookup_tool(calls), pay_tool(calls)], rig.firewall, AGENT, session_id="s-1"
    )
    ok = await allowed.ainvoke(tool_call("lookup", customer_id="c-8"))
    refused = await denied.ainvoke(tool_call("pay", amount=1.0))
    assert ok.status == "success"
    assert refused.status == "error"
    assert calls == ["c-8"]


def test_schema_is_adopted_so_bad_args_are_refused_by_the_firewall(tmp_path: Path) -> None:
    undeclared = tuple(spec.model_copy(update={"args_schema": None}) for spec in TOOLS)
    rig = make_rig(tmp_path, tools=undeclared)
    calls: list[str] = []
    [guarded] = guard_tools([pay_tool(calls)], rig.firewall, AGENT, session_id="s-1")
    schema = rig.firewall.tools["pay"].args_schema
    assert schema is not None
    assert schema["required"] == ["amount"]
    refused = guarded.invoke(tool_call("pay", amount="lots"))
    assert refused.status == "error"
    assert "invalid_args" in str(refused.content)
    assert calls == []


def test_wrapping_an_undeclared_tool_fails_fast(rig: Rig) -> None:
    @tool
    def drop_tables() -> str:
        """Not declared to the firewall."""
        return "dropped"

    with pytest.raises(ConfigError, match="drop_tables"):
        guard_tools([drop_tables], rig.firewall, AGENT, session_id="s-1")


def in_thread(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def ran_in(rig: Rig, session_id: str) -> int:
    """How many calls ran in the session, as the firewall's session store counts them."""
    counts = rig.firewall.sessions.policy_view("acme", session_id)["counts"]
    return int(counts.get("lookup", {}).get("ok", 0))


def test_without_a_session_id_each_conversation_is_its_own_session(rig: Rig) -> None:
    [guarded] = guard_tools([lookup_tool([])], rig.firewall, AGENT)
    for thread_id in ("t-1", "t-1", "t-2"):
        guarded.invoke(tool_call("lookup", customer_id="c-1"), config=in_thread(thread_id))
    assert {s: ran_in(rig, s) for s in ("t-1", "t-2")} == {"t-1": 2, "t-2": 1}


def test_an_explicit_session_id_is_every_calls_session(rig: Rig) -> None:
    [guarded] = guard_tools([lookup_tool([])], rig.firewall, AGENT, session_id="case-42")
    guarded.invoke(tool_call("lookup", customer_id="c-1"), config=in_thread("t-9"))
    assert (ran_in(rig, "case-42"), ran_in(rig, "t-9")) == (1, 0)


def test_a_token_resolves_again_in_the_conversation_it_was_shown_in(tmp_path: Path) -> None:
    ensure_dev_key(tmp_path)
    firewall = build_firewall(demo_config(tmp_path), facts=Backends.seeded().facts())
    backends = Backends.seeded()
    turns = [
        AIMessage("", tool_calls=[tool_call("crm_lookup", customer_id="c-100")]),
        AIMessage("", tool_calls=[tool_call("send_email", **MAIL_TO_SHOWN_ADDRESS)]),
        AIMessage("done"),
    ]
    tools = guard_tools(backends.tools(), firewall, PRINCIPAL)
    model = ScriptedChatModel(messages=iter(turns))
    agent = create_agent(model, tools=tools, checkpointer=InMemorySaver())
    agent.invoke({"messages": [HumanMessage("look up and mail")]}, in_thread("t-1"))
    firewall.close()
    assert [mail["to"] for mail in backends.outbox] == ["ada@example.com"]
