"""The decision journal: how approvers' decisions reach the audit chain without its key.

Approvers (the CLI, the REST API, Slack) never hold the audit writer's signing key. They
write what happened to a hold (``hold_decided``, ``approval_refused``, expiries) as an
entry of the ``approval_journal`` table in the approval store, which they already write.
The writer adopts the journal onto the chain (:func:`adopt_journal`): the gate before it
acts on a decided hold, and ``firewall audit checkpoint`` / the gate's close for the rest.
An adopted record carries ``details.journal_entry`` (the entry's id) and
``details.journaled_at``; an entry is marked adopted only after the chain took it, so a
crash in between adopts it twice (the verifier counts one entry once), never zero times.

``firewall audit verify`` reads the journal and the holds beside the chain (see
:mod:`firewall.approvals.decision_check`): an entry not yet adopted, an adopted entry the
chain lacks or tells differently, or a hold decided in the store with no decision record
at all, are findings.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Integer, String, Table, select, update

from firewall.approvals.store import SqlApprovalStore, UtcDateTime, json_type, metadata
from firewall.audit.events import AuditEvent, AuditSink

JOURNAL_TABLE = "approval_journal"
COMPARED_DETAILS = ("hold_id", "approver", "approvals")
"""What verify compares of an adopted entry with its record; all an adopted entry keeps."""
COMPARED_FIELDS = ("event", "outcome", "code", "call_id")
ENTRY_KEY = "journal_entry"
JOURNALED_AT_KEY = "journaled_at"

journal_table = Table(
    JOURNAL_TABLE,
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("hold_id", String(128)),
    Column("journaled_at", UtcDateTime, nullable=False),
    Column("event", json_type, nullable=False),
    Column("adopted_at", UtcDateTime),
)


@dataclass(frozen=True)
class JournalEntry:
    """One decision as an approver wrote it."""

    entry_id: int
    journaled_at: datetime
    event: dict[str, Any]
    adopted_at: datetime | None

    def as_audit_event(self) -> AuditEvent:
        """The event the chain records for this entry, naming the entry."""
        event = AuditEvent.model_validate(self.event)
        details = {
            **event.details,
            ENTRY_KEY: self.entry_id,
            JOURNALED_AT_KEY: self.journaled_at.isoformat(),
        }
        return event.model_copy(update={"details": details})


class DecisionJournal:
    """The journal in the approval store's database; an :class:`AuditSink` for approvers."""

    def __init__(
        self, store: SqlApprovalStore, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._store = store
        self._clock = clock or (lambda: datetime.now(UTC))
        self._store.ensure_table(journal_table)

    @property
    def store(self) -> SqlApprovalStore:
        """The approval store whose database holds this journal."""
        return self._store

    def append(self, event: AuditEvent) -> int:
        """Journal ``event``; durable when this returns. Returns the entry id."""
        with self._store.connection(begin=True) as conn:
            return self.append_in(conn, event)

    def append_in(self, conn: Connection, event: AuditEvent) -> int:
        """Journal ``event`` in ``conn``'s transaction (with the hold change it records)."""
        row = {
            "hold_id": event.details.get("hold_id"),
            "journaled_at": self._clock(),
            "event": event.model_dump(mode="json"),
        }
        key = conn.execute(journal_table.insert().values(row)).inserted_primary_key
        return int(key[0]) if key else 0

    def entries(self, *, pending_only: bool = False) -> builtins.list[JournalEntry]:
        """Every entry (or those not yet adopted), in the order they were written."""
        query = select(journal_table).order_by(journal_table.c.entry_id)
        if pending_only:
            query = query.where(journal_table.c.adopted_at.is_(None))
        with self._store.connection() as conn:
            rows = conn.execute(query).all()
        return [_entry(row._mapping) for row in rows]

    def mark_adopted(self, entries: builtins.list[JournalEntry]) -> None:
        """Record that the chain holds these entries, and keep of each only what verify
        compares: the chain holds the rest, sealed, so personal data (the customer, free
        text) does not outlive adoption here, where erasure could not reach it."""
        now = self._clock()
        with self._store.connection(begin=True) as conn:
            for entry in entries:
                statement = (
                    update(journal_table)
                    .where(
                        journal_table.c.entry_id == entry.entry_id,
                        journal_table.c.adopted_at.is_(None),
                    )
                    .values(adopted_at=now, event=adopted_form(entry.event))
                )
                conn.execute(statement)


def adopted_form(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` reduced to what verify compares with the record that adopted it."""
    details = event.get("details") or {}
    kept = {key: event.get(key) for key in COMPARED_FIELDS}
    return {**kept, "details": {k: details[k] for k in COMPARED_DETAILS if k in details}}


def _entry(row: Any) -> JournalEntry:
    return JournalEntry(
        entry_id=int(row["entry_id"]),
        journaled_at=row["journaled_at"],
        event=dict(row["event"]),
        adopted_at=row["adopted_at"],
    )


class AppendMany(AuditSink, Protocol):
    """An audit sink that takes several events at once (the SQL audit log)."""

    def append_many(self, events: Sequence[AuditEvent]) -> object:
        """Append ``events`` in order; durable when this returns."""
        ...


def adopt_journal(journal: DecisionJournal, audit: AppendMany) -> int:
    """Append every journal entry not yet on the chain to ``audit``; return how many.

    Fails (raises) if the chain cannot take them: the caller must then not act on a
    decision the chain does not show.
    """
    pending = journal.entries(pending_only=True)
    if not pending:
        return 0
    audit.append_many([entry.as_audit_event() for entry in pending])
    journal.mark_adopted(pending)
    return len(pending)
