"""Sealing records under the locked head row, and signing the new head.

Every appending transaction locks the single head row (``SELECT ... FOR UPDATE``; on
SQLite the transaction already holds the write lock), checks that the head is what a
writer signed, seals the records after it, extends the Merkle frontier and signs a
checkpoint of the new head. So the newest record is always covered by a signature made
with a key the database does not hold, and sequence numbers never come from a database
sequence.

The signed head is also kept as a checkpoint by the first append that crosses a multiple
of N records or enters a new T-second interval (counted from the Unix epoch). That
schedule reads only the signed head (its size and signing time) and the configured
policy, never a column an operator could edit unseen (those columns may add checkpoints,
never remove one): so every interval in which anything was signed has a kept checkpoint,
and ``firewall audit verify`` can tell when one is missing (see
:mod:`firewall.audit.cadence`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Connection, insert

from firewall.audit.checkpoints import (
    Checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    signature_status,
    signed_time,
)
from firewall.audit.continuity import LOCK_HEAD_AND_LINKS, READ_LINKS, Continuity
from firewall.audit.head_link import head_link_line, links_head
from firewall.audit.heads import (
    HEAD_COLUMNS,
    INSERT_CHECKPOINT,
    INSERT_RECORD,
    LOCK_HEAD,
    LOCK_HEAD_SKIP,
    READ_HEAD,
    UPDATE_HEAD,
    HeadState,
    PendingEntry,
    parse_head_row,
    record_rows,
)
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.keys import SigningKey
from firewall.audit.merkle import Frontier, leaf_hash
from firewall.audit.rawsql import RawSql, Statements
from firewall.audit.records import GENESIS_HASH, SealedRecord, format_time, hash_body, seal_body
from firewall.audit.schema import FORMAT, HEAD_ROW_ID, checkpoints_table, head_table, meta_table
from firewall.audit.settings import CheckpointPolicy
from firewall.audit.vault_store import STORE_VALUE, value_rows
from firewall.errors import AuditError

log = structlog.get_logger("firewall.audit")


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
        self._trusted: _TrustedHead | None = None
        self.continuity = Continuity()

    def now(self) -> datetime:
        """The writer's clock."""
        return self._clock()

    def initialize(self, conn: Connection, log_id: str, origin: str) -> None:
        """Write the metadata and the signed empty head of a new log."""
        time = format_time(self._clock())
        rows = [("format", FORMAT), ("log_id", log_id), ("origin", origin), ("created", time)]
        conn.execute(insert(meta_table), [{"name": n, "value": v} for n, v in rows])
        self.origin = origin
        note = self._sign(Frontier(), GENESIS_HASH, time, (self.keys.signing,))
        conn.execute(
            insert(head_table).values(
                id=HEAD_ROW_ID,
                seq=0,
                hash=GENESIS_HASH,
                frontier="[]",
                note=note,
                checkpoint_size=0,
                checkpoint_time=signing_time(time),
            )
        )
        conn.execute(
            insert(checkpoints_table).values(size=0, time=signing_time(time), note=note)
        )

    def check_head(self, conn: Connection) -> None:
        """Check, without locking, that the current head is one this writer trusts."""
        rows = RawSql(conn).rows(READ_HEAD)
        if not rows:
            raise AuditError("audit head row is missing; run `firewall audit verify`")
        self.head_from_row(dict(zip(HEAD_COLUMNS, rows[0], strict=True)))

    def lock_head(self, conn: Connection) -> HeadState:
        """Lock the head row (waiting for it) and check that a trusted writer signed it.

        And that the log did not go back under this writer, nor lose the records the head
        links to (see :mod:`firewall.audit.continuity`), read in the same statement.
        """
        sql, continuity = RawSql(conn), self.continuity
        rows = sql.rows(LOCK_HEAD_AND_LINKS, {"known_seq": continuity.known_seq})
        if not rows:
            raise AuditError("audit head row is missing; run `firewall audit verify`")
        columns = len(HEAD_COLUMNS)
        head = self.head_from_row(dict(zip(HEAD_COLUMNS, rows[0][:columns], strict=True)))
        links = continuity.links_of(head, rows[0][columns:])
        if continuity.links_problem(head, links) is not None:
            # PostgreSQL: that look may predate the lock; a new statement sees every commit.
            continuity.check_links(head, dict(sql.rows(READ_LINKS, continuity.link_params(head))))
        return head

    def try_lock_head(self, conn: Connection) -> HeadState | None:
        """Like :meth:`lock_head`, but None at once if another transaction holds it."""
        return self._locked_head(conn, skip_locked=True)

    def _locked_head(self, conn: Connection, *, skip_locked: bool) -> HeadState | None:
        rows = RawSql(conn).rows(LOCK_HEAD_SKIP if skip_locked else LOCK_HEAD)
        if not rows:
            return None
        return self.head_from_row(dict(zip(HEAD_COLUMNS, rows[0], strict=True)))

    def head_from_row(self, row: dict[str, Any]) -> HeadState:
        """The head in a locked head row's columns, checked (see :meth:`lock_head`)."""
        if self.keys.refresh():  # the key file was rotated: sign with the new key from now on
            log.info("audit_key_reloaded", key=self.keys.signing.verifier.key_id)
        head = parse_head_row(row)
        self.continuity.check_head(head)
        self._check_head(head)
        assert self._trusted is not None  # noqa: S101 - set by _check_head
        head.signed_time = self._trusted.time
        return head

    def append(
        self,
        sql: Statements,
        head: HeadState,
        entries: Sequence[PendingEntry],
        *,
        co_signers: Sequence[SigningKey] = (),
        force_checkpoint: bool = False,
    ) -> tuple[list[SealedRecord], str | None]:
        """Seal ``entries`` after ``head``; the records and any checkpoint note stored.

        ``co_signers`` sign the new head too (a key rotation signs with both keys).
        """
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
            sql.run_many(INSERT_RECORD, record_rows(sealed, entries))
            sql.run_many(STORE_VALUE, value_rows(v for entry in entries for v in entry.values))
        signers = (self.keys.signing, *co_signers)
        note = self._sign(head.frontier, prev_hash, time, signers)
        self.continuity.sealed(seq, prev_hash)
        due = force_checkpoint or self._checkpoint_due(head, seq, time)
        self._move_head(sql, head, prev_hash, note, time if due else None)
        return sealed, note if due else None

    def checkpoint(self, sql: Statements, head: HeadState, *, force: bool) -> str | None:
        """Re-sign the head now; store it as a checkpoint if due (or ``force``)."""
        time = format_time(self._clock())
        note = self._sign(head.frontier, head.hash, time, (self.keys.signing,))
        due = force or self._checkpoint_due(head, head.seq, time)
        self._move_head(sql, head, head.hash, note, time if due else None)
        return note if due else None

    def _move_head(
        self, sql: Statements, head: HeadState, last_hash: str, note: str, stored: str | None
    ) -> None:
        """Point the head row at ``note``; if ``stored`` (its time), keep it as a checkpoint."""
        seq = head.frontier.size
        values = {
            "seq": seq,
            "hash": last_hash,
            "frontier": json.dumps([item.hex() for item in head.frontier.hashes()]),
            "note": note,
            "checkpoint_size": head.checkpoint_size,
            "checkpoint_time": head.checkpoint_time,
        }
        if stored is not None:
            signed = signing_time(stored)  # as the note says it: whole seconds
            values |= {"checkpoint_size": seq, "checkpoint_time": signed}
            sql.run(INSERT_CHECKPOINT, {"size": seq, "time": signed, "note": note})
        sql.run(UPDATE_HEAD, values)

    def _checkpoint_due(self, head: HeadState, seq: int, time: str) -> bool:
        """Whether sealing up to ``seq`` at ``time`` after the signed ``head`` is kept.

        Due on crossing a multiple of N records or entering a new T-second interval, by
        the signed head alone. Also due N records or T seconds after the checkpoint the
        head row's columns name (the schedule of earlier versions, so a log they wrote
        keeps its cadence): unauthenticated, those columns can only add checkpoints.
        """
        every, seconds = self.policy.every_records, self.policy.every_seconds
        if seq // every > head.seq // every or seq - head.checkpoint_size >= every:
            return True
        if not head.signed_time or _interval(time, seconds) > _interval(head.signed_time, seconds):
            return True  # a head whose signing time cannot be read is checkpointed again
        try:
            kept = datetime.fromisoformat(head.checkpoint_time)
        except ValueError:
            return False
        return (datetime.fromisoformat(time) - kept).total_seconds() >= seconds

    def _sign(
        self, frontier: Frontier, last_hash: str, time: str, signers: Sequence[SigningKey]
    ) -> str:
        checkpoint = Checkpoint(self.origin, frontier.size, frontier.root())
        note = sign_checkpoint(checkpoint, signers, timestamp=_epoch_seconds(time))
        note += head_link_line(signers[0], checkpoint.body(), last_hash)
        self._trusted = _TrustedHead(
            note, frontier.size, last_hash, tuple(frontier.hashes()), signing_time(time)
        )
        return note

    def _check_head(self, head: HeadState) -> None:
        if self._trusted is not None and self._trusted.matches(head):
            return  # the head this writer signed last: its signature needs no second look
        problem = self._head_problem(head)
        if problem is not None and problem.startswith("unknown_key") and self.keys.refresh():
            problem = self._head_problem(head)
        if problem is not None:
            raise AuditError(
                f"the audit head (seq {head.seq}) is not one this writer can trust: "
                f"{problem}; refusing to append (run `firewall audit verify`)"
            )
        signed = signed_time(parse_checkpoint(head.note), self.keys.accepted)
        self._trusted = _TrustedHead.of(head, signed or "")

    def _head_problem(self, head: HeadState) -> str | None:
        try:
            note = parse_checkpoint(head.note)
        except AuditError as exc:
            return str(exc)
        checkpoint = note.checkpoint
        if checkpoint.origin != self.origin:
            return f"it is signed for log {checkpoint.origin}, not {self.origin}"
        if (checkpoint.size, checkpoint.root) != (head.seq, head.frontier.root()):
            return "the head row does not match its signed checkpoint"
        status, keys = signature_status(note, self.keys.accepted)
        if status != "verified":
            return f"{status} ({keys})"
        if checkpoint.chain is None:
            linked = links_head(note, head.hash, self.keys.accepted)
        else:  # a head signed before checkpoints lost their extension lines
            linked = checkpoint.chain == head.hash
        return None if linked else "the head row's hash is not the one its writer signed"


@dataclass(frozen=True)
class _TrustedHead:
    """A head whose signature this writer made or verified, with every column it covers."""

    note: str
    seq: int
    hash: str
    frontier: tuple[bytes, ...]
    time: str

    @classmethod
    def of(cls, head: HeadState, time: str) -> _TrustedHead:
        return cls(head.note, head.seq, head.hash, tuple(head.frontier.hashes()), time)

    def matches(self, head: HeadState) -> bool:
        """Whether ``head`` is this one: same note, and no column edited beside it."""
        return (
            head.note == self.note
            and (head.seq, head.hash) == (self.seq, self.hash)
            and tuple(head.frontier.hashes()) == self.frontier
        )


def _interval(time: str, every_seconds: float) -> int:
    """The number of the ``every_seconds`` interval (from the Unix epoch) ``time`` is in."""
    return int(datetime.fromisoformat(time).timestamp() // every_seconds)


def _leaf(record: SealedRecord) -> bytes:
    return leaf_hash(record.leaf)


def _epoch_seconds(time: str) -> int:
    """POSIX seconds of a record time string (what a cosignature/v1 line carries)."""
    return int(datetime.fromisoformat(time).timestamp())


def signing_time(time: str) -> str:
    """``time`` as a checkpoint signed then says it was: whole seconds (its cosignature)."""
    return format_time(datetime.fromtimestamp(_epoch_seconds(time), UTC))
