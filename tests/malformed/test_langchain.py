"""Malformed arguments through guard_tools: the model reads an error ToolMessage, nothing raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from firewall.adapters.langchain import guard_tools
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool

from firewall.types import DenyCode
from tests.gate_helpers import Rig
from tests.malformed.corpus import (
    REFUSALS,
    TOO_DEEP,
    Refusal,
    nested_dicts,
    nested_lists,
    shared_list_bomb,
)
from tests.malformed.rig import AGENT, build_rig

THROUGH_LANGCHAIN = (
    "one 1 MiB string",
    "a number for a string",
    "None for a string",
    "a NUL inside a string",
    "a million-item list",
    "a list shared 2**40 times",
    "NaN",
    "a nested non-string key",
    "objects 10,000 deep",
    "arrays 100,000 deep",
    "a deep value for a string argument",
)
ENTRIES = [entry for entry in REFUSALS if entry.name in THROUGH_LANGCHAIN]


def langchain_tools(ran: list[str]) -> list[BaseTool]:
    @tool
    def crm_lookup(customer_id: str) -> str:
        """Read a customer record."""
        ran.append(customer_id)
        return f"record of {customer_id}"

    @tool
    def echo(payload: Any) -> str:
        """Repeat the payload."""
        ran.append("echo")
        return "echoed"

    @tool
    def refund(order_id: str, amount: float) -> str:
        """Refund an order."""
        ran.append(order_id)
        return "refunded"

    return [crm_lookup, echo, refund]


def guarded(tmp_path: Path) -> tuple[Rig, dict[str, BaseTool], list[str]]:
    rig = build_rig(tmp_path)
    ran: list[str] = []
    tools = guard_tools(langchain_tools(ran), rig.firewall, AGENT, session_id="s-1")
    return rig, {t.name: t for t in tools}, ran


def tool_call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": "tc-malformed", "type": "tool_call"}


def assert_refused(message: object, entry: Refusal) -> None:
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert message.tool_call_id == "tc-malformed"
    content = str(message.content)
    assert content.startswith(f"Tool call denied ({entry.code.value}): ")
    assert all(part in content for part in entry.says)
    assert len(content) < 600


def assert_still_serves(tools: dict[str, BaseTool], ran: list[str]) -> None:
    reply = tools["crm_lookup"].invoke(tool_call("crm_lookup", {"customer_id": "c-1"}))
    assert isinstance(reply, ToolMessage)
    assert (reply.status, reply.content) == ("success", "record of c-1")
    assert ran == ["c-1"]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
def test_model_reads_a_denial_and_the_tool_never_runs(entry: Refusal, tmp_path: Path) -> None:
    rig, tools, ran = guarded(tmp_path)
    bad = entry.build()
    message = tools[bad.tool].invoke(tool_call(bad.tool, dict(bad.args)))
    assert_refused(message, entry)
    assert ran == []
    decisions = [r for r in rig.records() if r.event == "decision"]
    assert [(r.outcome, r.code) for r in decisions] == [("deny", entry.code.value)]
    assert_still_serves(tools, ran)


@pytest.mark.parametrize(
    "payload",
    [nested_dicts(100_000), nested_lists(500), shared_list_bomb(40)],
    ids=["objects 100,000 deep", "arrays 500 deep", "a list shared 2**40 times"],
)
async def test_async_invoke_refuses_the_same_way(payload: Any, tmp_path: Path) -> None:
    _rig, tools, ran = guarded(tmp_path)
    message = await tools["echo"].ainvoke(tool_call("echo", {"payload": payload}))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert DenyCode.INVALID_ARGS.value in str(message.content)
    assert ran == []


def test_plain_dict_input_gets_the_denial_text(tmp_path: Path) -> None:
    """Invoked without a tool call, the tool answers with the denial as text, as LangChain does."""
    _rig, tools, ran = guarded(tmp_path)
    answer = tools["echo"].invoke({"payload": nested_lists(100_000)})
    assert isinstance(answer, str)
    assert TOO_DEEP in answer
    assert ran == []
