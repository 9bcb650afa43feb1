"""Sealing records under the locked head row, and signing the new head.

Every appending transaction locks the single head row (``SELECT ... FOR UPDATE``; on
SQLite the transaction already holds the write lock), checks that the head is what a
writer signed, seals the records after it, extends the Merkle frontier and signs a
checkpoint of the new head. So the newest record is always covered by a signature made
with a key the database does not hold, and sequence numbers never come from a database
sequence. Every N records or T seconds the signed head is also kept as a checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from firewall.audit.checkpoints import Checkpoint, parse_checkpoint, sign_checkpoint
from firewall.audit.checkpoints import signature_status
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.merkle import Frontier, leaf_hash
from firewall.audit.records import GENESIS_HASH, SealedRecord, format_time, hash_body, seal_body
from firewall.audit.schema import FORMAT, HEAD_ROW_ID, checkpoints_table, head_table
from firewall.audit.schema import meta_table, records_table
from firewall.audit.settings import CheckpointPolicy
from firewall.audit.vault import SealedValue
from firewall.audit.vault_store import store_values
from firewall.errors import AuditError


@dataclass
class PendingEntry:
    """An event ready to seal: its canonical entry and its encrypted personal values."""

    entry: str
    event: str
    call_id: str | None
    values: list[SealedValue] = field(default_factory=list)
    ticket: str | None = None


@dataclass
class HeadState:
    """The locked head row."""

    seq: int
    hash: str
    frontier: Frontier
    note: str
    checkpoint_size: int
    checkpoint_time: str


class ChainWriter:
    """Seals entries onto the chain and signs heads with the writer's key."""

    def __init__(
        self,
        keys: WriterKeys,
        policy: CheckpointPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.keys = keys
        self.policy = policy
        self.origin = ""
        self._clock = clock
        self._trusted_note: str | None = None

    def initialize(self, conn: Connection, log_id: str, origin: str) -> None:
        """Write the metadata and the signed empty head of a new log."""
        time = format_time(self._clock())
        rows = [("format", FORMAT), ("log_id", log_id), ("origin", origin), ("created", time)]
        conn.execute(insert(meta_table), [{"name": n, "value": v} for n, v in rows])
        self.origin = origin
        note = self._sign(Frontier(), GENESIS_HASH, time)
        conn.execute(
            insert(head_table).values(
                id=HEAD_ROW_ID,
                seq=0,
                hash=GENESIS_HASH,
                frontier="[]",
                note=note,
                checkpoint_size=0,
                checkpoint_time=time,
            )
        )
        conn.execute(insert(checkpoints_table).values(size=0, time=time, note=note))

    def lock_head(self, conn: Connection) -> HeadState:
        """Lock the head row and check that a trusted writer signed it."""
        self.keys.refresh()
        row = conn.execute(
            select(head_table).where(head_table.c.id == HEAD_ROW_ID).with_for_update()
        ).first()
        if row is None:
            raise AuditError("audit head row is missing; run `firewall audit verify`")
        try:
            hashes = [bytes.fromhex(item) for item in json.loads(row.frontier)]
            frontier = Frontier(int(row.seq), hashes)
        except (ValueError, TypeError) as exc:
            raise AuditError(f"audit head frontier is unreadable: {exc}") from exc
        head = HeadState(
            int(row.seq), row.hash, frontier, row.note, row.checkpoint_size, row.checkpoint_time
        )
        self._check_head(head)
        return head

    def append(
        self, conn: Connection, head: HeadState, entries: Sequence[PendingEntry]
    ) -> tuple[list[SealedRecord], str | None]:
        """Seal ``entries`` after ``head``; the records and any checkpoint note stored."""
        time = format_time(self._clock())
        sealed: list[SealedRecord] = []
        seq, prev_hash = head.seq, head.hash
        for entry in entries:
            seq += 1
            body = seal_body(entry.entry, seq, prev_hash, time)
            record = SealedRecord(seq=seq, hash=hash_body(body), body=body)
            head.frontier.append(_leaf(record))
            sealed.append(record)
            prev_hash = record.hash
        if sealed:
            conn.execute(insert(records_table), _rows(sealed, entries))
            store_values(conn, [value for entry in entries for value in entry.values])
        return sealed, self._move_head(conn, head, seq, prev_hash, time, force=False)

    def checkpoint(self, conn: Connection, head: HeadState, *, force: bool) -> str | None:
        """Re-sign the head now; store it as a checkpoint if due (or ``force``)."""
        time = format_time(self._clock())
        return self._move_head(conn, head, head.seq, head.hash, time, force=force)

    def _move_head(
        self, conn: Connection, head: HeadState, seq: int, last_hash: str, time: str, *, force: bool
    ) -> str | None:
        note = self._sign(head.frontier, last_hash, time)
        due = force or self._checkpoint_due(head, seq, time)
        values = {
            "seq": seq,
            "hash": last_hash,
            "frontier": json.dumps([item.hex() for item in head.frontier.hashes()]),
            "note": note,
        }
        if due:
            values |= {"checkpoint_size": seq, "checkpoint_time": time}
            conn.execute(insert(checkpoints_table).values(size=seq, time=time, note=note))
        conn.execute(update(head_table).where(head_table.c.id == HEAD_ROW_ID).values(values))
        return note if due else None

    def _checkpoint_due(self, head: HeadState, seq: int, time: str) -> bool:
        if seq - head.checkpoint_size >= self.policy.every_records:
            return True
        elapsed = datetime.fromisoformat(time) - datetime.fromisoformat(head.checkpoint_time)
        return elapsed.total_seconds() >= self.policy.every_seconds

    def _sign(self, frontier: Frontier, last_hash: str, time: str) -> str:
        checkpoint = Checkpoint(self.origin, frontier.size, frontier.root(), last_hash, time)
        note = sign_checkpoint(checkpoint, [self.keys.signing])
        self._trusted_note = note
        return note

    def _check_head(self, head: HeadState) -> None:
        if head.note == self._trusted_note:
            return
        problem = self._head_problem(head)
        if problem == "unknown_key" and self.keys.refresh():
            problem = self._head_problem(head)
        if problem is not None:
            raise AuditError(
                f"the audit head (seq {head.seq}) is not one this writer can trust: "
                f"{problem}; refusing to append (run `firewall audit verify`)"
            )
        self._trusted_note = head.note

    def _head_problem(self, head: HeadState) -> str | None:
        try:
            note = parse_checkpoint(head.note)
        except AuditError as exc:
            return str(exc)
        checkpoint = note.checkpoint
        if checkpoint.origin != self.origin:
            return f"it is signed for log {checkpoint.origin}, not {self.origin}"
        expected = (head.seq, head.hash, head.frontier.root())
        if (checkpoint.size, checkpoint.chain, checkpoint.root) != expected:
            return "the head row does not match its signed checkpoint"
        status, keys = signature_status(note, self.keys.accepted)
        return None if status == "verified" else f"{status} ({keys})"


def _leaf(record: SealedRecord) -> bytes:
    return leaf_hash(record.leaf)


def _rows(sealed: Sequence[SealedRecord], entries: Sequence[PendingEntry]) -> list[dict[str, object]]:
    return [
        {
            "seq": record.seq,
            "hash": record.hash,
            "body": record.body,
            "event": entry.event,
            "call_id": entry.call_id,
            "ticket": entry.ticket,
        }
        for record, entry in zip(sealed, entries, strict=True)
    ]
