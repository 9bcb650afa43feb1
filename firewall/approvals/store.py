"""The SQL approval store: SQLite by default, PostgreSQL through psycopg."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from firewall.approvals.base import check_successor
from firewall.approvals.models import DECISION_FIELDS, HoldRecord, HoldState
from firewall.approvals.sealing import (
    approval_subjects,
    erase_subject,
    open_rows,
    seal_created,
    seal_decision,
)
from firewall.errors import ConfigError, DuplicateCallError, MissingDependencyError, StoreError
from firewall.existing_store import require_existing
from firewall.sqlddl import create_missing
from firewall.sqlite_files import checked_file, guard_sqlite_file
from firewall.types import CallKey

SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_CONNECT_TIMEOUT_S = 10


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store the UTC wall time.
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_json = JSON().with_variant(JSONB(), "postgresql")
json_type = _json
metadata = MetaData()
holds_table = Table(
    "approval_holds",
    metadata,
    Column("hold_id", String(128), primary_key=True),
    # A call id is the model's: it names a call only within (tenant, session, agent).
    Column("tenant", String(128), nullable=False),
    Column("session_id", String(256), nullable=False),
    Column("agent_id", String(128), nullable=False),
    Column("call_id", String(128), nullable=False),
    Column("digest", String(80), nullable=False),
    Column("tool", String(128), nullable=False),
    Column("args", _json, nullable=False),
    Column("principal", _json, nullable=False),
    Column("reasons", _json, nullable=False),
    Column("approvers", String(128)),
    Column("quorum", Integer, nullable=False),
    Column("money_arg", String(128)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("approvals", _json, nullable=False),
    Column("decided_by", _json, nullable=False),
    Column("decided_at", UtcDateTime),
    Column("decision_reason", Text),
    Column("version", Integer, nullable=False),
)
_SCOPE = (
    holds_table.c.tenant,
    holds_table.c.session_id,
    holds_table.c.agent_id,
    holds_table.c.call_id,
)
_indexes = (
    Index("ix_approval_holds_state", holds_table.c.state),
    Index("ux_approval_holds_scoped_call", *_SCOPE, unique=True),
)
_DATETIMES = ("created_at", "expires_at", "decided_at")
ERASABLE_TABLES = ("approval_subjects", "approval_holds", "approval_journal")
"""The tables an erasure deletes from or rewrites (their files are rewritten afterwards)."""


class SqlApprovalStore:
    """Holds in the ``approval_holds`` table of the database at ``url``.

    A SQLite file may be shared by several processes (WAL mode, busy timeout); an
    in-memory SQLite database (``sqlite://``) serves one process, serialised by a lock.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        if not create:
            require_existing(url, holds_table.name)
        self._engine, in_memory = make_engine(url)
        self._lock = threading.Lock() if in_memory else nullcontext()
        try:
            with self._connection(begin=True) as conn:
                create_missing(conn, holds_table, approval_subjects, indexes=tuple(_indexes))
        except StoreError:
            self._engine.dispose()
            raise

    def ensure_table(self, table: Table) -> None:
        """Create ``table`` (of :data:`metadata`) in this store's database if it is missing."""
        with self._connection(begin=True) as conn:
            create_missing(conn, table)

    def connection(self, *, begin: bool = False) -> AbstractContextManager[Connection]:
        """A connection to the store's database (in a transaction with ``begin``)."""
        return self._connection(begin=begin)

    def create(self, record: HoldRecord) -> None:
        """Store a new hold; a duplicate hold id is a :class:`StoreError`.

        A second hold for the same scoped call id violates the table's unique index:
        :class:`DuplicateCallError`, whichever of two concurrent writers comes second.
        """
        try:
            with self._connection(begin=True) as conn:
                conn.execute(holds_table.insert().values(seal_created(conn, _to_row(record))))
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                owner = self.for_call(record.key)
                if owner is not None and owner.hold_id != record.hold_id:
                    raise DuplicateCallError(record.call_id, owner.hold_id) from exc
            raise

    def get(self, hold_id: str) -> HoldRecord | None:
        """The hold ``hold_id``, or None."""
        query = select(holds_table).where(holds_table.c.hold_id == hold_id)
        found = self._read(query)
        return found[0] if found else None

    def list(self, state: HoldState | None = None) -> builtins.list[HoldRecord]:
        """All holds, or those in ``state``, oldest first."""
        query = select(holds_table).order_by(holds_table.c.created_at, holds_table.c.hold_id)
        if state is not None:
            query = query.where(holds_table.c.state == state.value)
        return self._read(query)

    def for_call(self, key: CallKey) -> HoldRecord | None:
        """The hold of the call ``key`` names (at most one, by the unique index), or None."""
        scope = (key.tenant, key.session_id, key.agent_id, key.call_id)
        query = select(holds_table).where(
            *(column == value for column, value in zip(_SCOPE, scope, strict=True))
        )
        found = self._read(query)
        return found[0] if found else None

    def compare_and_set(
        self,
        old: HoldRecord,
        new: HoldRecord,
        *,
        also: Callable[[Connection], object] | None = None,
    ) -> bool:
        """Write ``new`` iff the stored hold is still at ``old.version``; True iff it won.

        ``also`` runs in the same transaction if it won (the decision journal's entry), so
        the change and its record commit together or not at all.
        """
        check_successor(old, new)
        stored_args = select(holds_table.c.args).where(holds_table.c.hold_id == old.hold_id)
        with self._connection(begin=True) as conn:
            row = seal_decision(conn, _to_row(new), conn.execute(stored_args).scalar())
            changes = {name: row[name] for name in DECISION_FIELDS}
            statement = (
                update(holds_table)
                .where(holds_table.c.hold_id == old.hold_id, holds_table.c.version == old.version)
                .values(changes)
            )
            won = conn.execute(statement).rowcount == 1
            if won and also is not None:
                also(conn)
            return won

    def erase(self, subject: str) -> tuple[str | None, int]:
        """Delete ``subject``'s key: their holds read ``[erased]``. ``(pseudonym, holds)``.

        The deleted rows stay in the database files until
        :func:`firewall.audit.scrub.scrub_files` runs on :data:`ERASABLE_TABLES`
        (``firewall audit erase`` does both).
        """
        with self._connection(begin=True) as conn:
            return erase_subject(conn, holds_table, subject)

    @property
    def engine(self) -> Engine:
        """The store's engine (for erasure's file clean-up)."""
        return self._engine

    def _read(self, query: Any) -> builtins.list[HoldRecord]:
        """The holds ``query`` selects, their sealed fields opened."""
        with self._connection() as conn:
            rows = open_rows(conn, (row._mapping for row in conn.execute(query)))
        return [_from_row(row) for row in rows]

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> SqlApprovalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _connection(self, *, begin: bool = False) -> Iterator[Connection]:
        """A connection; after the block (and its commit), its file is checked to be the one
        at the configured path (SQLite, see :mod:`firewall.sqlite_files`)."""
        try:
            with (
                self._lock,
                self._engine.connect() as conn,
                checked_file(conn),
                conn.begin() if begin else nullcontext(),
            ):
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"approval store failed: {_describe(exc)}") from exc


def make_engine(url: str, what: str = "approval store database") -> tuple[Engine, bool]:
    """An engine for ``url`` (SQLite: WAL and busy timeout); True if in-memory SQLite.

    A SQLite file is pinned (see :mod:`firewall.sqlite_files`): if it is deleted or
    replaced, the store raises :class:`StoreError` naming ``what`` and the path, and uses
    only the file it first opened (the same file put back) until the process restarts.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError("approvals.url", "not a database URL") from exc
    options: dict[str, Any] = {}
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if in_memory:
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    elif parsed.get_backend_name() == "postgresql":
        options = {"pool_pre_ping": True}
        if "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **options)
    except ImportError as exc:
        raise MissingDependencyError(exc.name or parsed.get_driver_name(), "postgres") from exc
    except (ArgumentError, SQLAlchemyError) as exc:
        raise ConfigError("approvals.url", f"unsupported database URL: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
        guard_sqlite_file(engine, what, StoreError, same_file_only=True)
    return engine, in_memory


def _configure_sqlite(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA secure_delete = ON")  # deleted keys are zeroed, not freed
    finally:
        cursor.close()


def _to_row(record: HoldRecord) -> dict[str, Any]:
    row = record.model_dump(mode="json")
    row |= {name: getattr(record, name) for name in _DATETIMES}
    row |= {"tenant": record.key.tenant, "agent_id": record.key.agent_id}
    return row


def _from_row(row: Any) -> HoldRecord:
    fields = dict(row)
    scope = {"tenant": fields.pop("tenant", None), "agent_id": fields.pop("agent_id", None)}
    try:
        record = HoldRecord.model_validate(fields)
    except ValidationError as exc:
        # Name the bad fields, never their values (args may hold personal data).
        bad = ", ".join(".".join(map(str, error["loc"])) for error in exc.errors())
        raise StoreError(f"stored hold {row['hold_id']!r} is malformed at: {bad}") from exc
    # The scope columns carry the unique index; they must say what the record says.
    stated = {"tenant": record.key.tenant, "agent_id": record.key.agent_id}
    if disagree := [name for name, value in scope.items() if stated[name] != value]:
        where = ", ".join(disagree)
        raise StoreError(
            f"stored hold {row['hold_id']!r} is malformed at: {where} (differs from principal)"
        )
    return record


def _describe(exc: SQLAlchemyError) -> str:
    """The driver's message without the SQL statement and its parameters."""
    original = getattr(exc, "orig", None)
    return f"{type(original or exc).__name__}: {original or exc}".splitlines()[0]
