"""guard_tools: same tool surface, every call through the firewall, denials as messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from firewall.adapters.langchain import guard_tools
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool

from firewall.errors import ConfigError
from tests.gate_helpers import AGENT, Rig, make_rig


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
    [guarded] = guard_tools([original], rig.firewall, AGENT)
    assert guarded.name == original.name
    assert guarded.description == original.description
    assert guarded.args == original.args
    assert guarded.tool_call_schema.model_json_schema() == (
        original.tool_call_schema.model_json_schema()
    )


def test_allowed_call_returns_the_tools_result(rig: Rig) -> None:
    calls: list[str] = []
    [guarded] = guard_tools([lookup_tool(calls)], rig.firewall, AGENT)
    message = guarded.invoke(tool_call("lookup", customer_id="c-7"))
    assert isinstance(message, ToolMessage)
    assert message.status == "success"
    assert "gold" in str(message.content)
    assert calls == ["c-7"]
    assert [r.event for r in rig.records()] == ["decision", "outcome"]


def test_denied_call_becomes_an_error_message_and_does_not_run(rig: Rig) -> None:
    calls: list[str] = []
    [guarded] = guard_tools([pay_tool(calls)], rig.firewall, AGENT)
    message = guarded.invoke(tool_call("pay", amount=10.0))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert "payments are closed today" in str(message.content)
    assert calls == []


async def test_async_invoke_goes_through_the_firewall(rig: Rig) -> None:
    calls: list[str] = []
    allowed, denied = guard_tools([lookup_tool(calls), pay_tool(calls)], rig.firewall, AGENT)
    ok = await allowed.ainvoke(tool_call("lookup", customer_id="c-8"))
    refused = await denied.ainvoke(tool_call("pay", amount=1.0))
    assert ok.status == "success"
    assert refused.status == "error"
    assert calls == ["c-8"]


def test_schema_is_adopted_so_bad_args_are_refused_by_the_firewall(rig: Rig) -> None:
    calls: list[str] = []
    [guarded] = guard_tools([pay_tool(calls)], rig.firewall, AGENT)
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
        guard_tools([drop_tables], rig.firewall, AGENT)
