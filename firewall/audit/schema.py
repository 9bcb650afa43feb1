"""The audit tables: one column per record field, and a single-row head.

Times are stored as text and JSON fields as ``JSON`` (not ``JSONB``), so that what is
read back is exactly what was hashed on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    RowMapping,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
)

from firewall.audit.records import GENESIS_HASH, AuditRecord
from firewall.errors import AuditError

HEAD_ROW_ID = 1
# Serialises concurrent table creation on PostgreSQL (any fixed 64-bit key will do).
CREATE_LOCK_KEY = 0x6677_6175_6469_7431

metadata = MetaData()

records_table = Table(
    "audit_records",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("v", Integer, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("time", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("call_id", Text),
    Column("principal", JSON(none_as_null=True)),
    Column("tool", Text),
    Column("outcome", Text),
    Column("code", Text),
    Column("reasons", JSON, nullable=False),
    Column("policy_revision", Text),
    Column("args_digest", Text),
    Column("details", JSON, nullable=False),
    Column("hash", Text, nullable=False),
    Index("ix_audit_records_call_id", "call_id"),
)

head_table = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
    CheckConstraint(f"id = {HEAD_ROW_ID}", name="audit_head_single_row"),
)


def record_to_row(record: AuditRecord) -> dict[str, Any]:
    """The column values of ``record``."""
    return record.model_dump(mode="json")


def row_to_record(row: RowMapping) -> AuditRecord:
    """The record stored in ``row``, or :class:`AuditError` if the row is unreadable."""
    try:
        return AuditRecord.model_validate(dict(row))
    except ValidationError as exc:
        seq = row.get("seq")
        raise AuditError(f"audit record seq {seq} is unreadable: {exc}") from exc


def create_schema(conn: Connection) -> None:
    """Create the tables if missing and, for an empty log, the head row."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATE_LOCK_KEY})
    metadata.create_all(conn)
    has_head = conn.execute(select(head_table.c.id)).first() is not None
    has_records = conn.execute(select(records_table.c.seq).limit(1)).first() is not None
    if not has_head and not has_records:
        conn.execute(insert(head_table).values(id=HEAD_ROW_ID, seq=0, hash=GENESIS_HASH))


def check_schema(conn: Connection) -> None:
    """Raise :class:`AuditError` naming the audit tables that do not exist."""
    inspector = inspect(conn)
    missing = [name for name in metadata.tables if not inspector.has_table(name)]
    if missing:
        raise AuditError(f"audit tables missing: {', '.join(sorted(missing))}")
