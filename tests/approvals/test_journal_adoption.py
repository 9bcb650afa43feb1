"""An adopted journal entry keeps only what verify compares: nothing personal stays behind."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from firewall.approvals import SqlApprovalStore
from firewall.approvals.journal import DecisionJournal, adopt_journal
from firewall.audit import SqlAuditLog
from firewall.audit.events import AuditEvent
from firewall.audit.keyfiles import WriterKeys, generate_key_pair

CUSTOMER = "customer:c-journal-4711"


def journal_texts(db_url: str) -> list[str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [str(v) for v in conn.execute(text("SELECT event FROM approval_journal"))]
    finally:
        engine.dispose()


def test_an_adopted_entry_keeps_the_decision_and_drops_the_customer_and_the_reason(
    db_url: str, store: SqlApprovalStore, tmp_path: Path
) -> None:
    event = AuditEvent(
        event="hold_decided",
        call_id="call-j-1",
        tool="issue_refund",
        outcome="denied",
        principal={"agent_id": "bot", "tenant": "acme", "on_behalf_of": CUSTOMER},
        reasons=(f"{CUSTOMER} is not the account holder",),
        details={"hold_id": "hold-j-1", "approver": "alice", "note": CUSTOMER},
    )
    DecisionJournal(store).append(event)
    assert any(CUSTOMER in row for row in journal_texts(db_url))  # before: all of it
    key_file, _, _ = generate_key_pair(tmp_path / "keys", "writer")
    with SqlAuditLog(db_url, keys=WriterKeys.from_file(key_file)) as log:
        assert adopt_journal(DecisionJournal(store), log) == 1
        records = list(log.records())
    decided = [r for r in records if r.event == "hold_decided"]
    assert [(r.outcome, r.details["hold_id"], r.details["approver"]) for r in decided] == [
        ("denied", "hold-j-1", "alice")
    ]
    assert [row for row in journal_texts(db_url) if CUSTOMER in row or "account" in row] == []
