"""The audit log in SQL: SQLite by default, PostgreSQL for several hosts.

Every append takes the head row locked in its own transaction (``SELECT ... FOR
UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), seals the records after it and
moves the head, so concurrent writers in any number of processes build one gapless
chain. Sequence numbers never come from a database sequence (those have gaps).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, insert, select, update

from firewall.audit.engine import make_engine, snapshot_options, translated_errors
from firewall.audit.events import AuditEvent
from firewall.audit.records import AuditRecord, seal
from firewall.audit.schema import (
    HEAD_ROW_ID,
    check_schema,
    create_schema,
    head_table,
    record_to_row,
    records_table,
    row_to_record,
)
from firewall.errors import AuditError

DEFAULT_CHUNK_SIZE = 500


class AuditSnapshot:
    """One consistent read view of the log (valid inside :meth:`SqlAuditLog.snapshot`)."""

    def __init__(self, conn: Connection, chunk_size: int) -> None:
        self._conn = conn
        self._chunk_size = chunk_size

    def head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the last record as the head row says, or None if empty."""
        with translated_errors("read the audit head"):
            row = self._conn.execute(
                select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == HEAD_ROW_ID)
            ).first()
        if row is None or row.seq == 0:
            return None
        return int(row.seq), str(row.hash)

    def records(self, start_seq: int = 1) -> Iterator[AuditRecord]:
        """The records from ``start_seq`` on, in sequence order, read in chunks."""
        next_seq = start_seq
        while True:
            rows = self._read(
                select(records_table)
                .where(records_table.c.seq >= next_seq)
                .order_by(records_table.c.seq)
                .limit(self._chunk_size),
                which=f"from seq {next_seq} on",
            )
            for row in rows:
                record = row_to_record(row)
                yield record
                next_seq = record.seq + 1
            if len(rows) < self._chunk_size:
                return

    def records_for_call(self, call_id: str) -> list[AuditRecord]:
        """Every record of one call, in sequence order."""
        query = (
            select(records_table)
            .where(records_table.c.call_id == call_id)
            .order_by(records_table.c.seq)
        )
        return [row_to_record(row) for row in self._read(query, which=f"of call {call_id}")]

    def _read(self, query: Select[Any], *, which: str) -> Sequence[RowMapping]:
        with translated_errors(f"read the audit records {which}"):
            try:
                return self._conn.execute(query).mappings().all()
            except ValueError as exc:  # a JSON column that no longer parses
                raise AuditError(f"an audit record {which} is unreadable: {exc}") from exc


class SqlAuditLog:
    """The hash-chained audit log in one SQL database (an :class:`AuditSink`).

    ``create=False`` opens an existing log without writing anything (for verifying):
    missing tables or a missing SQLite file raise :class:`AuditError`.
    """

    def __init__(
        self, url: str, *, create: bool = True, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        self._engine = make_engine(url, read_only=not create)
        self._chunk_size = chunk_size
        try:
            with translated_errors("open its tables"), self._engine.connect() as conn:
                if not create:  # read without taking SQLite's write lock
                    conn.execution_options(**snapshot_options(self._engine))
                with conn.begin():
                    (create_schema if create else check_schema)(conn)
        except AuditError:
            self._engine.dispose()
            raise

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` as the next record; durable when this returns."""
        return self.append_many([event])[0]

    def append_many(self, events: Iterable[AuditEvent]) -> list[AuditRecord]:
        """Seal ``events`` as the next records, in order, in one transaction."""
        pending = list(events)
        if not pending:
            return []
        with translated_errors("append"), self._engine.begin() as conn:
            seq, prev_hash = self._lock_head(conn)
            now = datetime.now(UTC)
            sealed: list[AuditRecord] = []
            for event in pending:
                seq += 1
                sealed.append(seal(event, seq, prev_hash, now))
                prev_hash = sealed[-1].hash
            conn.execute(insert(records_table), [record_to_row(record) for record in sealed])
            conn.execute(
                update(head_table)
                .where(head_table.c.id == HEAD_ROW_ID)
                .values(seq=seq, hash=prev_hash)
            )
        return sealed

    @contextmanager
    def snapshot(self) -> Iterator[AuditSnapshot]:
        """A consistent read view: head and records as of one moment."""
        with translated_errors("read"), self._engine.connect() as conn:
            conn.execution_options(**snapshot_options(self._engine))
            with conn.begin():
                yield AuditSnapshot(conn, self._chunk_size)

    def head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the last record as the head row says, or None if empty."""
        with self.snapshot() as view:
            return view.head()

    def records(self, start_seq: int = 1) -> Iterator[AuditRecord]:
        """The records from ``start_seq`` on, in sequence order, streamed in chunks."""
        with self.snapshot() as view:
            yield from view.records(start_seq)

    def records_for_call(self, call_id: str) -> list[AuditRecord]:
        """Every record of one call, in sequence order."""
        with self.snapshot() as view:
            return view.records_for_call(call_id)

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> SqlAuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _lock_head(conn: Connection) -> tuple[int, str]:
        row = conn.execute(
            select(head_table.c.seq, head_table.c.hash)
            .where(head_table.c.id == HEAD_ROW_ID)
            .with_for_update()
        ).first()
        if row is None:
            raise AuditError(
                "audit head row is missing although records exist; "
                "run `firewall audit verify` before appending"
            )
        return int(row.seq), str(row.hash)
