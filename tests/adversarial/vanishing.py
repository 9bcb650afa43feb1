"""An agent behind a firewall built from a firewall.toml, and what an outsider and an auditor do.

Shared by the attacks in :mod:`tests.adversarial.test_vanished_stores`: the refund tool
records every run; the policy allows refunds up to 100 and holds larger ones.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from firewall.gate import Executed, Firewall
from firewall.types import Deny, DenyCode, Hold, Principal, ToolCall

POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "deny", "reasons": ["no rule for this tool"]}

decision := {"outcome": "allow", "reasons": []} if {
    input.tool.name == "issue_refund"
    input.args.amount <= 100
}

decision := {
    "outcome": "hold",
    "reasons": ["refunds above 100 need a supervisor"],
    "obligations": {"approvers": "supervisors"},
} if {
    input.tool.name == "issue_refund"
    input.args.amount > 100
}
"""

TOOL = """
[[tools]]
name = "issue_refund"
scope = "refunds:write"
risk = "high"
money_arg = "amount"

[tools.args_schema]
type = "object"
required = ["order_id", "amount"]
additionalProperties = false
properties = { order_id = { type = "string" }, amount = { type = "number" } }
"""

AGENT = Principal(agent_id="support-bot", tenant="acme", scopes=frozenset({"refunds:write"}))
SIDE_FILES = ("-wal", "-shm")


def write_config(root: Path, storage: dict[str, str], audit: dict[str, Any]) -> Path:
    """A firewall.toml in ``root`` (policy beside it) with these [storage] and [audit] keys."""
    (root / "policy").mkdir(parents=True, exist_ok=True)
    (root / "policy" / "decision.rego").write_text(POLICY, encoding="utf-8")
    lines = ["[policy]", 'dir = "policy"', "", "[storage]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in storage.items()]
    lines += ["", "[limits]", "freeze_cache_s = 0", "", "[holds]", 'hold_mode = "return"']
    lines += ["", "[approvers]", 'supervisors = ["alice"]', "", "[audit]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in audit.items()]
    path = root / "firewall.toml"
    path.write_text("\n".join(lines) + "\n" + TOOL, encoding="utf-8")
    return path


@dataclass
class Agent:
    """A support agent whose refunds pass a firewall; ``refunded`` lists refunds that ran."""

    firewall: Firewall
    refunded: list[float] = field(default_factory=list)
    executed_calls: list[str] = field(default_factory=list)
    refused_calls: list[str] = field(default_factory=list)
    closed: bool = False

    def refund(self, amount: float) -> Executed[str] | Deny | Hold:
        call = ToolCall(
            tool="issue_refund",
            args={"order_id": "o-1", "amount": amount},
            principal=AGENT,
            session_id="s-1",
        )

        def issue_refund() -> str:
            self.refunded.append(amount)
            self.executed_calls.append(call.call_id)
            return f"refunded {amount}"

        result = self.firewall.run(call, issue_refund)
        if isinstance(result, Deny):
            self.refused_calls.append(call.call_id)
        return result

    def flush(self) -> None:
        """Seal the outcome records the log defers."""
        flush = getattr(self.firewall.audit, "flush", None)
        if flush is not None:
            flush()

    def close(self) -> None:
        """Stop as a process would at exit: flush, then release every store (once)."""
        if self.closed:
            return
        self.closed = True
        self.firewall.close()
        self.firewall.approvals.close()
        close_audit = getattr(self.firewall.audit, "close", None)
        if close_audit is not None:
            close_audit()


def assert_refused(result: object, agent: Agent, before: list[float], *names: str) -> Deny:
    """The refund was refused (store error) naming ``names``, and the tool never ran."""
    assert not isinstance(result, Executed), "the refund ran after its store vanished"
    assert isinstance(result, Deny), f"expected a refusal, got {result!r}"
    assert result.code is DenyCode.STORE_ERROR, result.message()
    for name in names:
        assert name in result.message(), result.message()
    assert agent.refunded == before, "the refund tool was called"
    return result


def claims_at(db: Path, call_ids: list[str]) -> list[str]:
    """What the audit log at ``db``, read later as an auditor would, says of ``call_ids``:
    each ``allow`` decision and ``ok`` outcome, as ``"<call>: <event> <outcome>"``."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT call_id, body FROM audit_records").fetchall()
    except sqlite3.DatabaseError:
        return []
    finally:
        conn.close()
    found = []
    for call_id, body in rows:
        entry = json.loads(body)["entry"]
        if call_id in call_ids and entry.get("outcome") in ("allow", "ok"):
            found.append(f"{call_id}: {entry['event']} {entry['outcome']}")
    return found


def assert_no_refused_call_claimed_to_run(agent: Agent, db: Path) -> None:
    """After exit, the log at ``db`` holds no ``ok`` outcome of a call that was refused
    (an ``allow`` decision alone is a call "in doubt", which the verifier reports)."""
    agent.close()
    assert agent.refused_calls, "nothing was refused"
    claims = claims_at(db, agent.refused_calls)
    assert [claim for claim in claims if claim.endswith("outcome ok")] == []


def checkpoint_into_main_file(db: Path) -> None:
    """What any process with the file may do: move the WAL's pages into the database file."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def attack_sql(url: str, *statements: str) -> None:
    """Run ``statements`` as an outsider with a plain connection to the same schema."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()
