"""Tools from a real MCP server process, loaded with langchain-mcp-adapters, are guarded.

The orders MCP server runs as a child process over stdio; every tool that really runs on
it appends to a ledger file, so these tests see what reached the server, not what our
wrapper claims. The audit log is read with plain SQL.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from firewall.examples.mcp_tools.run import (
    FACTS,
    call_each,
    example_config,
    guarded_tools,
    server_connection,
)

from firewall.errors import ConfigError
from firewall.factory import build_firewall
from firewall.gate import Firewall

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def firewall(tmp_path: Path) -> Iterator[Firewall]:
    built = build_firewall(example_config(tmp_path), facts=FACTS)
    yield built
    built.close()


def ledger(path: Path) -> list[dict[str, Any]]:
    """What ran on the MCP server."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def audited_codes(data_dir: Path, tool: str) -> list[str | None]:
    """The deny codes (None: allowed or held) of ``tool``'s decision records, in order."""
    with sqlite3.connect(data_dir / "mcp.db") as db:
        rows = db.execute("SELECT body FROM audit_records WHERE event = 'decision' ORDER BY seq")
        entries = [json.loads(body)["entry"] for (body,) in rows]
    return [entry["code"] for entry in entries if entry["tool"] == tool]


def run_calls(firewall: Firewall, ledger_path: Path, calls: Any = None) -> list[Any]:
    connection = server_connection({"ORDERS_LEDGER": str(ledger_path)})

    async def go() -> list[Any]:
        async with guarded_tools(firewall, connection, "ticket-1") as tools:
            if calls is None:
                return await call_each(tools)
            by_name = {tool.name: tool for tool in tools}
            return [await by_name[name].ainvoke(args) for name, args in calls]

    return asyncio.run(go())


def test_the_mcp_tools_argument_schemas_are_adopted_by_the_firewall(
    firewall: Firewall, tmp_path: Path
) -> None:
    run_calls(firewall, tmp_path / "ledger.jsonl", [])
    schema = firewall.tools.get("issue_refund").args_schema
    assert schema is not None
    assert set(schema["properties"]) == {"order_id", "amount", "reason"}


def test_what_the_policy_allows_runs_on_the_server_and_a_held_refund_does_not(
    firewall: Firewall, tmp_path: Path
) -> None:
    answers = run_calls(firewall, tmp_path / "ledger.jsonl")
    ran = ledger(tmp_path / "ledger.jsonl")
    assert [(entry["tool"], entry["args"].get("amount")) for entry in ran] == [
        ("crm_lookup", None),
        ("issue_refund", 40.0),
    ]
    assert "Dana Reyes" in answers[0]
    assert "pending approval" in answers[2]


def test_an_argument_the_mcp_tool_does_not_declare_never_reaches_the_server(
    firewall: Firewall, tmp_path: Path
) -> None:
    """``amount_cents`` beside ``amount``: refused and audited, the server never called."""
    smuggled = {"order_id": "o-1001", "amount": 5.0, "reason": "x", "amount_cents": 900000}
    (answer,) = run_calls(firewall, tmp_path / "ledger.jsonl", [("issue_refund", smuggled)])
    assert "amount_cents" in answer
    assert ledger(tmp_path / "ledger.jsonl") == []
    assert audited_codes(tmp_path, "issue_refund") == ["invalid_args"]


def test_a_refund_the_policy_denies_never_reaches_the_server(
    firewall: Firewall, tmp_path: Path
) -> None:
    over = {"order_id": "o-1001", "amount": 121.0, "reason": "more than the order"}
    (answer,) = run_calls(firewall, tmp_path / "ledger.jsonl", [("issue_refund", over)])
    assert "denied" in answer
    assert ledger(tmp_path / "ledger.jsonl") == []
    assert audited_codes(tmp_path, "issue_refund") == ["policy"]


def test_an_mcp_tool_the_firewall_does_not_declare_is_refused_at_wiring(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    only_lookup = config.model_copy(update={"tools": [config.tools[0]]})
    built = build_firewall(only_lookup, facts=FACTS)

    async def wire() -> None:
        async with guarded_tools(built, server_connection(), "ticket-1"):
            pass

    try:
        with pytest.raises(ConfigError, match="issue_refund"):
            asyncio.run(wire())
    finally:
        built.close()
