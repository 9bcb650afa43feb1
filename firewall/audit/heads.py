"""The head row and what gets sealed after it: data shapes and the writer's statements."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from firewall.audit.merkle import Frontier
from firewall.audit.records import SealedRecord
from firewall.audit.vault import SealedValue
from firewall.errors import AuditError

HEAD_COLUMNS = ("seq", "hash", "frontier", "note", "checkpoint_size", "checkpoint_time")
READ_HEAD = (
    "SELECT seq, hash, frontier, note, checkpoint_size, checkpoint_time "
    "FROM audit_head WHERE id = 1"
)
LOCK_HEAD = READ_HEAD + " FOR UPDATE"
LOCK_HEAD_SKIP = LOCK_HEAD + " SKIP LOCKED"
UPDATE_HEAD = (
    "UPDATE audit_head SET seq = %(seq)s, hash = %(hash)s, frontier = %(frontier)s, "
    "note = %(note)s, checkpoint_size = %(checkpoint_size)s, "
    "checkpoint_time = %(checkpoint_time)s WHERE id = 1"
)
INSERT_RECORD = (
    "INSERT INTO audit_records (seq, hash, body, event, call_id, ticket) "
    "VALUES (%(seq)s, %(hash)s, %(body)s, %(event)s, %(call_id)s, %(ticket)s)"
)
INSERT_CHECKPOINT = (
    "INSERT INTO audit_checkpoints (size, time, note) VALUES (%(size)s, %(time)s, %(note)s)"
)


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
    signed_time: str = ""
    """When the head's note was signed (set once the writer checked the note)."""


def parse_head_row(row: dict[str, Any]) -> HeadState:
    """The head in a head row's columns; :class:`AuditError` if they are unreadable."""
    try:
        seq = int(row["seq"])
        hashes = [bytes.fromhex(item) for item in json.loads(row["frontier"])]
        return HeadState(
            seq,
            str(row["hash"]),
            Frontier(seq, hashes),
            str(row["note"]),
            int(row["checkpoint_size"]),
            str(row["checkpoint_time"]),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise AuditError(f"audit head row is unreadable: {exc}") from exc


def record_rows(
    sealed: Sequence[SealedRecord], entries: Sequence[PendingEntry]
) -> list[dict[str, Any]]:
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
