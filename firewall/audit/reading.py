"""One consistent read view of the log: head, checkpoints, raw rows and parsed records."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, select, text

from firewall.audit.engine import translated_errors
from firewall.audit.jcs import canonical
from firewall.audit.records import AuditRecord, SealedRecord
from firewall.audit.schema import (
    HEAD_ROW_ID,
    checkpoints_table,
    head_table,
    read_meta,
    records_table,
)
from firewall.audit.vault_store import read_value
from firewall.errors import AuditError

_ROWS_FROM = text(
    "SELECT seq, hash, body FROM audit_records WHERE seq >= :start ORDER BY seq LIMIT :limit"
)
_ROWS_WITH_COLUMNS_FROM = text(
    "SELECT seq, hash, body, event, call_id FROM audit_records WHERE seq >= :start "
    "ORDER BY seq LIMIT :limit"
)
# Rows the chain never reaches: before its first record, or with no sequence number.
_ROWS_OUTSIDE = text(
    "SELECT seq, event, call_id FROM audit_records WHERE seq < 1 OR seq IS NULL "
    "ORDER BY seq LIMIT :limit"
)
_COUNT_OUTSIDE = text("SELECT count(*) FROM audit_records WHERE seq < 1 OR seq IS NULL")
_COUNT_ROWS = text("SELECT count(*) FROM audit_records")
_HEAD_ROWS = text("SELECT id, seq, frontier, checkpoint_size, checkpoint_time FROM audit_head")
_CHECKPOINT_ROWS = text("SELECT id, size, time, note FROM audit_checkpoints ORDER BY id")
ColumnRow = tuple[int, str, str, str | None, str | None]


class AuditSnapshot:
    """Valid inside :meth:`SqlAuditLog.snapshot`: everything as of one moment."""

    def __init__(self, conn: Connection, chunk_size: int) -> None:
        self._conn = conn
        self._chunk_size = chunk_size

    def meta(self) -> dict[str, str]:
        """The log's metadata: ``log_id``, ``origin``, ``format``, ``created``."""
        with translated_errors("read the audit metadata"):
            return read_meta(self._conn)

    def head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the last record as the head row says, or None if empty."""
        row = self._head_row()
        if row is None or row.seq == 0:
            return None
        return int(row.seq), str(row.hash)

    def head_note(self) -> str | None:
        """The signed checkpoint of the current head."""
        row = self._head_row()
        return None if row is None else str(row.note)

    def checkpoint_notes(self) -> list[tuple[int, str]]:
        """Every stored checkpoint: ``(id, note text)``, oldest first."""
        query = select(checkpoints_table.c.id, checkpoints_table.c.note).order_by(
            checkpoints_table.c.id
        )
        return [(int(row.id), str(row.note)) for row in self._read(query, "checkpoints")]

    def rows(self, start_seq: int = 1) -> Iterator[SealedRecord]:
        """The stored records from ``start_seq`` on, unparsed, read in chunks."""
        for seq, record_hash, body in self.raw_rows(start_seq):
            yield SealedRecord(seq=int(seq), hash=str(record_hash), body=str(body))

    def raw_rows(self, start_seq: int = 1) -> Iterator[tuple[int, str, str]]:
        """``(seq, hash, body)`` tuples straight from the driver (the verifier's hot path)."""
        yield from self._chunks(_ROWS_FROM, start_seq)

    def rows_with_columns(self) -> Iterator[ColumnRow]:
        """``(seq, hash, body, event, call_id)`` of every record from seq 1 on."""
        yield from self._chunks(_ROWS_WITH_COLUMNS_FROM, 1)

    def rows_outside(self, limit: int) -> tuple[int, list[Row[Any]]]:
        """How many rows lie outside the chain (seq < 1 or none), and the first ``limit``."""
        with translated_errors("read the audit records outside the chain"):
            count = int(self._conn.execute(_COUNT_OUTSIDE).scalar_one())
            rows = self._conn.execute(_ROWS_OUTSIDE, {"limit": limit}).all() if count else []
        return count, list(rows)

    def row_count(self) -> int:
        """Every row of ``audit_records``."""
        with translated_errors("count the audit records"):
            return int(self._conn.execute(_COUNT_ROWS).scalar_one())

    def head_rows(self) -> list[Row[Any]]:
        """Every row of ``audit_head`` (there must be one): id, frontier, checkpoint columns."""
        with translated_errors("read the audit head"):
            return list(self._conn.execute(_HEAD_ROWS).all())

    def checkpoint_rows(self) -> list[Row[Any]]:
        """Every row of ``audit_checkpoints``: id, size, time, note."""
        with translated_errors("read the audit checkpoints"):
            return list(self._conn.execute(_CHECKPOINT_ROWS).all())

    def _chunks(self, query: Any, start_seq: int) -> Iterator[Any]:
        next_seq = start_seq
        while True:
            with translated_errors(f"read the audit records from seq {next_seq} on"):
                chunk = self._conn.execute(
                    query, {"start": next_seq, "limit": self._chunk_size}
                ).all()
            yield from chunk
            if len(chunk) < self._chunk_size:
                return
            next_seq = int(chunk[-1][0]) + 1

    def records(self, start_seq: int = 1) -> Iterator[AuditRecord]:
        """The records from ``start_seq`` on, parsed."""
        for row in self.rows(start_seq):
            yield row.record()

    def records_for_call(self, call_id: str) -> list[AuditRecord]:
        """Every record of one call on the chain (seq 1 to the head), in sequence order.

        Found by what the record itself says, never by the unauthenticated ``call_id``
        column: rows outside the chain, or whose column was edited, are not returned. This
        does not verify the records; ``firewall audit show`` does.
        """
        head = self.head()
        if head is None:
            return []
        needle = '"call_id":' + canonical(call_id)
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", needle) + "%"
        query = (
            select(records_table.c.seq, records_table.c.hash, records_table.c.body)
            .where(records_table.c.seq.between(1, head[0]))
            .where(records_table.c.body.like(pattern, escape="\\"))
            .order_by(records_table.c.seq)
        )
        rows = self._read(query, f"of call {call_id}")
        records = [AuditRecord.from_body(str(row.body), str(row.hash)) for row in rows]
        return [record for record in records if record.call_id == call_id]

    def leaves(self, size: int) -> list[bytes]:
        """The Merkle leaf data (raw record hashes) of the first ``size`` records."""
        leaves = [row.leaf for row in self.rows() if row.seq <= size]
        if len(leaves) < size:
            raise AuditError(f"the log has {len(leaves)} records, fewer than {size}")
        return leaves[:size]

    def reveal(self, reference: str) -> tuple[bool, Any]:
        """``(True, value)`` of a personal-data reference, ``(False, None)`` if erased."""
        with translated_errors("read a personal value"):
            return read_value(self._conn, reference)

    def _head_row(self) -> Row[Any] | None:
        with translated_errors("read the audit head"):
            return self._conn.execute(
                select(head_table).where(head_table.c.id == HEAD_ROW_ID)
            ).first()

    def _read(self, query: Select[Any], which: str) -> Sequence[Row[Any]]:
        with translated_errors(f"read the audit {which}"):
            return self._conn.execute(query).all()
