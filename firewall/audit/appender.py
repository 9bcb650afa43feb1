"""Getting events onto the chain fast without giving up "durable before it returns".

Two levels of group commit:

* In one process, :class:`GroupCommit` lets the thread that gets the commit lock seal
  every event queued meanwhile by other threads, in one transaction.
* Across processes on PostgreSQL, :class:`HandoffSealer` first hands its events to the
  UNLOGGED ``audit_pending`` table (a cheap commit: no WAL), then waits for the head
  lock. Whoever gets the lock seals every pending event, its own and those of the
  processes queued behind it, in one transaction; they find theirs sealed and return.
  Each handed-off event carries an HMAC under a key derived from the writer's private
  key, so rows planted by someone with only database access are never sealed.

A call returns only after the transaction holding its records has committed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from firewall.audit.jcs import canonical
from firewall.audit.records import SealedRecord
from firewall.audit.schema import pending_table, records_table
from firewall.audit.vault import SealedValue, protect, subject_of
from firewall.audit.vault_store import subject_keys
from firewall.audit.writer import ChainWriter, PendingEntry
from firewall.errors import AuditError
from firewall.types import new_id

Sealer = Callable[[Sequence[dict[str, Any]]], list[SealedRecord]]


def prepare(conn: Connection, events: Sequence[dict[str, Any]]) -> list[PendingEntry]:
    """Protect the personal data of ``events`` and encode them canonically."""
    subjects = [subject_of(data) for data in events]
    keys = subject_keys(conn, {subject for subject in subjects if subject is not None})
    entries = []
    for data, subject in zip(events, subjects, strict=True):
        protected, values = protect(data, keys[subject] if subject is not None else None)
        entries.append(
            PendingEntry(canonical(protected), data["event"], data.get("call_id"), values)
        )
    return entries


class DirectSealer:
    """Seal in one transaction that holds the head lock throughout (SQLite, or erasure).

    ``on_checkpoint`` receives each checkpoint note stored, after its commit.
    """

    def __init__(
        self, engine: Engine, writer: ChainWriter, on_checkpoint: Callable[[str], None]
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._on_checkpoint = on_checkpoint

    def __call__(self, events: Sequence[dict[str, Any]]) -> list[SealedRecord]:
        with self._engine.begin() as conn:
            head = self._writer.lock_head(conn)
            records, note = self._writer.append(conn, head, prepare(conn, events))
        if note:
            self._on_checkpoint(note)
        return records


class HandoffSealer(DirectSealer):
    """Hand events to ``audit_pending``, then seal them all under the head lock (PostgreSQL)."""

    def __call__(self, events: Sequence[dict[str, Any]]) -> list[SealedRecord]:
        ticket, note = new_id("t"), None
        with self._engine.begin() as conn:
            entries = prepare(conn, events)
            conn.execute(insert(pending_table), [self._pending_row(ticket, e) for e in entries])
        with self._engine.begin() as conn:
            head = self._writer.lock_head(conn)
            mine = _sealed_for(conn, ticket)
            if not mine:
                drained = self._drain(conn)
                if not any(entry.ticket == ticket for entry in drained):
                    raise AuditError("handed-off audit events vanished (database restarted?)")
                records, note = self._writer.append(conn, head, drained)
                pairs = zip(records, drained, strict=True)
                mine = [record for record, entry in pairs if entry.ticket == ticket]
        if note:
            self._on_checkpoint(note)
        if len(mine) != len(events):
            raise AuditError(f"expected {len(events)} sealed records, found {len(mine)}")
        return mine

    def _pending_row(self, ticket: str, entry: PendingEntry) -> dict[str, Any]:
        row = {
            "ticket": ticket,
            "event": entry.event,
            "call_id": entry.call_id,
            "entry": entry.entry,
            "personal": json.dumps([_encode_value(value) for value in entry.values]),
        }
        return row | {"mac": _mac(self._writer.keys.handoff_keys[0], row)}

    def _drain(self, conn: Connection) -> list[PendingEntry]:
        rows = conn.execute(select(pending_table).order_by(pending_table.c.id)).mappings().all()
        keys = self._writer.keys.handoff_keys
        accepted = [row for row in rows if any(_mac_ok(key, row) for key in keys)]
        if accepted:
            ids = [row["id"] for row in accepted]
            conn.execute(delete(pending_table).where(pending_table.c.id.in_(ids)))
        return [
            PendingEntry(
                entry=row["entry"],
                event=row["event"],
                call_id=row["call_id"],
                values=[_decode_value(item) for item in json.loads(row["personal"])],
                ticket=row["ticket"],
            )
            for row in accepted
        ]


class GroupCommit:
    """Batches concurrent appends of one process into one sealing call."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer
        self._commit_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Ticket] = []

    def submit(self, events: Sequence[dict[str, Any]]) -> list[SealedRecord]:
        """Seal ``events`` (with whatever else is queued); return once committed."""
        ticket = _Ticket(list(events))
        with self._queue_lock:
            self._queue.append(ticket)
        with self._commit_lock:
            if not ticket.done.is_set():
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._run(batch)
        return ticket.outcome()

    def _run(self, batch: list[_Ticket]) -> None:
        try:
            records = self._sealer([event for ticket in batch for event in ticket.events])
        except BaseException as exc:
            for ticket in batch:
                ticket.fail(exc)
            return
        start = 0
        for ticket in batch:
            ticket.succeed(records[start : start + len(ticket.events)])
            start += len(ticket.events)


class _Ticket:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.done = threading.Event()
        self._records: list[SealedRecord] = []
        self._error: BaseException | None = None

    def succeed(self, records: list[SealedRecord]) -> None:
        self._records = records
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self.done.set()

    def outcome(self) -> list[SealedRecord]:
        if self._error is not None:
            raise self._error
        return self._records


def _sealed_for(conn: Connection, ticket: str) -> list[SealedRecord]:
    rows = conn.execute(
        select(records_table.c.seq, records_table.c.hash, records_table.c.body)
        .where(records_table.c.ticket == ticket)
        .order_by(records_table.c.seq)
    )
    return [SealedRecord(seq=int(seq), hash=h, body=body) for seq, h, body in rows]


def _encode_value(value: SealedValue) -> list[str]:
    nonce, ciphertext = (base64.b64encode(raw).decode("ascii") for raw in (value.nonce, value.ciphertext))
    return [value.pseudonym, value.commitment, nonce, ciphertext]


def _decode_value(item: list[str]) -> SealedValue:
    pseudonym, commitment, nonce, ciphertext = item
    return SealedValue(pseudonym, commitment, base64.b64decode(nonce), base64.b64decode(ciphertext))


def _mac(key: bytes, row: dict[str, Any]) -> str:
    fields = [row["ticket"], row["event"], row["call_id"], row["entry"], row["personal"]]
    return hmac.new(key, json.dumps(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def _mac_ok(key: bytes, row: Any) -> bool:
    return hmac.compare_digest(_mac(key, dict(row)), str(row["mac"]))
