"""Build a small audit log and tamper with its rows directly in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, delete, select, update

from firewall.audit.events import AuditEvent
from firewall.audit.records import AuditRecord
from firewall.audit.schema import head_table, records_table
from firewall.audit.store import SqlAuditLog

PRINCIPAL = {"agent_id": "support-bot", "tenant": "acme", "scopes": ["crm:read", "pay:refund"]}
DIGEST = "sha256:" + "ab" * 32

# Nine records; seq 5 (the middle one) has every field filled in.
EVENTS = [
    AuditEvent(event="decision", call_id="call_1", tool="lookup", outcome="allow"),
    AuditEvent(event="outcome", call_id="call_1", tool="lookup", outcome="ok"),
    AuditEvent(event="decision", call_id="call_2", tool="refund", outcome="deny", code="policy"),
    AuditEvent(event="decision", call_id="call_3", tool="lookup", outcome="allow"),
    AuditEvent(
        event="decision",
        call_id="call_4",
        principal=PRINCIPAL,
        tool="refund",
        outcome="allow",
        code="approved",
        reasons=("approved by alice", "under limit"),
        policy_revision=DIGEST,
        args_digest=DIGEST,
        details={"amount": 12.5, "ratio": 0.1, "tags": ["a", "b"]},
    ),
    AuditEvent(event="outcome", call_id="call_3", tool="lookup", outcome="ok"),
    AuditEvent(event="outcome", call_id="call_4", tool="refund", outcome="ok"),
    AuditEvent(event="decision", call_id="call_5", tool="lookup", outcome="allow"),
    AuditEvent(event="outcome", call_id="call_5", tool="lookup", outcome="error"),
]
MIDDLE = 5
LAST = len(EVENTS)


def build_log(url: str) -> list[AuditRecord]:
    """Write EVENTS to a fresh log at ``url``."""
    with SqlAuditLog(url) as log:
        return [log.append(event) for event in EVENTS]


def update_row(url: str, seq: int, values: dict[str, Any]) -> None:
    """Overwrite columns of the record at ``seq``."""
    execute(url, update(records_table).where(records_table.c.seq == seq).values(values))


def delete_rows(url: str, *seqs: int) -> None:
    """Delete the records at ``seqs``."""
    execute(url, delete(records_table).where(records_table.c.seq.in_(seqs)))


def delete_head(url: str) -> None:
    """Delete the head row."""
    execute(url, delete(head_table))


def swap_contents(url: str, first: int, second: int) -> None:
    """Exchange every column but ``seq`` between two records."""
    engine = create_engine(url)
    with engine.begin() as conn:
        rows = {
            row["seq"]: dict(row)
            for row in conn.execute(
                select(records_table).where(records_table.c.seq.in_((first, second)))
            ).mappings()
        }
        for target, source in ((first, second), (second, first)):
            values = {key: value for key, value in rows[source].items() if key != "seq"}
            conn.execute(update(records_table).where(records_table.c.seq == target).values(values))
    engine.dispose()


def swap_seqs(url: str, first: int, second: int) -> None:
    """Exchange the ``seq`` values of two records (through a free value: seq is unique)."""
    parked = -first
    engine = create_engine(url)
    with engine.begin() as conn:
        for old, new in ((first, parked), (second, first), (parked, second)):
            conn.execute(update(records_table).where(records_table.c.seq == old).values(seq=new))
    engine.dispose()


def execute(url: str, statement: Any) -> None:
    """Run one statement against ``url`` and commit."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(statement)
    engine.dispose()
