"""Tokenization end to end: the model sees tokens, the tool gets real values, the audit neither."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from firewall.examples.support_agent.agent import PRINCIPAL, build_agent, scripted_turns
from firewall.examples.support_agent.backends import Backends
from firewall.examples.support_agent.run import demo_config
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from firewall.factory import build_firewall
from firewall.gate import Firewall

EMAIL = "ada@example.com"
CARD_FORMS = ("4111 1111 1111 1111", "4111111111111111")
SCRIPT = (
    ("crm_lookup", {"customer_id": "c-100"}),
    ("send_email", {"to": "$EMAIL", "subject": "Your refund", "body": "Card $CARD is credited."}),
)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Firewall, Backends, Path]]:
    config = demo_config(tmp_path)
    backends = Backends.seeded()
    firewall = build_firewall(config, facts=backends.facts())
    yield firewall, backends, tmp_path
    firewall.close()


def _run(firewall: Firewall, backends: Backends, thread: str = "t-1") -> list[BaseMessage]:
    agent = build_agent(firewall, backends.tools(), scripted_turns(SCRIPT))
    state = agent.invoke(
        {"messages": [HumanMessage("Tell Ada her refund is on its way.")]},
        {"configurable": {"thread_id": thread}},
    )
    messages: list[BaseMessage] = state["messages"]
    return messages


def _raw_values_in(text: str) -> list[str]:
    return [value for value in (EMAIL, *CARD_FORMS) if value in text]


def _every_stored_value(db: Path) -> str:
    """Every cell of every table of the SQLite store, as one text."""
    with sqlite3.connect(db) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        cells: list[Any] = []
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - own test tables
                cells.extend(row)
    return "\n".join(
        cell.decode(errors="replace") if isinstance(cell, bytes) else str(cell) for cell in cells
    )


def test_the_model_sees_tokens_and_the_tool_gets_the_real_address(rig) -> None:
    firewall, backends, _ = rig
    messages = _run(firewall, backends)
    model_visible = "\n".join(str(m.content) + str(getattr(m, "tool_calls", "")) for m in messages)
    assert _raw_values_in(model_visible) == []
    assert "<EMAIL_" in model_visible
    assert "************1111" in model_visible  # crm_lookup masks the card on file
    assert [mail["to"] for mail in backends.outbox] == [EMAIL]
    sent = [m for m in messages if isinstance(m, ToolMessage) and m.name == "send_email"]
    assert sent[0].status != "error", sent[0].content


def test_the_audit_store_holds_neither_the_address_nor_the_card(rig) -> None:
    firewall, backends, data_dir = rig
    _run(firewall, backends)
    assert backends.outbox, "the round trip did not reach the email tool"
    stored = _every_stored_value(data_dir / "firewall.db")
    assert "send_email" in stored
    assert _raw_values_in(stored) == []


def test_a_token_from_another_session_is_refused_and_audited(rig) -> None:
    firewall, backends, _ = rig
    first = _run(firewall, backends, thread="session-a")
    token = next(m for m in first if isinstance(m, ToolMessage) and "<EMAIL_" in str(m.content))
    email_token = str(token.content).split('"email": "')[1].split('"')[0]
    backends.outbox.clear()
    script = (("send_email", {"to": email_token, "subject": "Hi", "body": "x"}),)
    agent = build_agent(firewall, backends.tools(), scripted_turns(script))
    state = agent.invoke(
        {"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "session-b"}}
    )
    refusal = [m for m in state["messages"] if isinstance(m, ToolMessage)][-1]
    assert refusal.status == "error"
    assert "token_refused" in str(refusal.content)
    assert "another session" in str(refusal.content)
    assert backends.outbox == []
    records = [r for r in firewall.audit.records() if r.code == "token_refused"]  # type: ignore[attr-defined]
    assert len(records) == 1
    assert records[0].principal is not None
    assert PRINCIPAL.agent_id == records[0].principal["agent_id"]
