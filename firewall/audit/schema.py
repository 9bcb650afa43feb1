"""The audit tables.

``audit_records`` keeps each record's exact body (the hashed bytes) and hash; ``event``,
``call_id`` and ``ticket`` are unauthenticated lookup columns. ``audit_head`` is the
single row every append locks: the last seq and hash, the Merkle frontier, and the
signed head checkpoint. ``audit_checkpoints`` keeps the periodic checkpoints. Subject
keys and encrypted personal values live in ``audit_subjects`` and ``audit_personal``,
apart from the chain. On PostgreSQL, ``audit_pending`` (UNLOGGED: no WAL, no fsync) is
where processes hand events to whichever of them holds the head lock next.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    inspect,
    select,
    text,
)

from firewall.errors import AuditError
from firewall.sqlddl import hold_creation_lock

FORMAT = "2"
HEAD_ROW_ID = 1
SeqType = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()

meta_table = Table(
    "audit_meta",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

records_table = Table(
    "audit_records",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=False),
    Column("hash", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("call_id", Text),
    Column("ticket", Text),
    Index("ix_audit_records_call_id", "call_id"),
    Index("ix_audit_records_ticket", "ticket"),
)

head_table = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
    Column("frontier", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("checkpoint_size", BigInteger, nullable=False),
    Column("checkpoint_time", Text, nullable=False),
    CheckConstraint(f"id = {HEAD_ROW_ID}", name="audit_head_single_row"),
)

checkpoints_table = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False),
    Column("time", Text, nullable=False),
    Column("note", Text, nullable=False),
    Index("ix_audit_checkpoints_size", "size"),
)

subjects_table = Table(
    "audit_subjects",
    metadata,
    Column("subject", Text, primary_key=True),
    Column("pseudonym", Text, nullable=False, unique=True),
    Column("key", Text, nullable=False),
    Column("created", Text, nullable=False),
)

personal_table = Table(
    "audit_personal",
    metadata,
    Column("pseudonym", Text, nullable=False),
    Column("commitment", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("ciphertext", Text, nullable=False),
    PrimaryKeyConstraint("pseudonym", "commitment"),
)

ERASABLE_TABLES = ("audit_subjects", "audit_personal")
"""The tables an erasure deletes from (their files are rewritten afterwards)."""

pending_metadata = MetaData()
pending_table = Table(
    "audit_pending",
    pending_metadata,
    Column("id", BigInteger, primary_key=True),
    Column("ticket", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("call_id", Text),
    Column("entry", Text, nullable=False),
    Column("personal", Text, nullable=False),
    Column("mac", Text, nullable=False),
)
CREATE_PENDING = (
    "CREATE UNLOGGED TABLE IF NOT EXISTS audit_pending ("
    "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ticket TEXT NOT NULL, "
    "event TEXT NOT NULL, call_id TEXT, entry TEXT NOT NULL, personal TEXT NOT NULL, "
    "mac TEXT NOT NULL)"
)


def create_tables(conn: Connection) -> bool:
    """Create missing tables; True if the log still needs its first head row."""
    hold_creation_lock(conn)
    inspector = inspect(conn)
    if inspector.has_table("audit_records") and not inspector.has_table("audit_meta"):
        raise AuditError(_OLD_FORMAT)
    metadata.create_all(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text(CREATE_PENDING))
    return conn.execute(select(head_table.c.id)).first() is None


def check_tables(conn: Connection) -> None:
    """Raise :class:`AuditError` naming missing tables or an unsupported format."""
    inspector = inspect(conn)
    missing = [name for name in metadata.tables if not inspector.has_table(name)]
    if "audit_meta" in missing and "audit_records" not in missing:
        raise AuditError(_OLD_FORMAT)
    if missing:
        raise AuditError(f"audit tables missing: {', '.join(sorted(missing))}")
    stored = conn.execute(select(meta_table.c.value).where(meta_table.c.name == "format"))
    found = stored.scalar()
    if found != FORMAT:
        raise AuditError(f"audit log format {found!r} is not supported (expected {FORMAT})")


def read_meta(conn: Connection) -> dict[str, str]:
    """Every name/value pair of ``audit_meta``."""
    rows = conn.execute(select(meta_table.c.name, meta_table.c.value))
    return {str(name): str(value) for name, value in rows}


_OLD_FORMAT = (
    "this audit database was written by an older version (record format 1); "
    "this version reads format 2 only: move the old database aside"
)
