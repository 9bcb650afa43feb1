"""SQLAlchemy engines for the audit log, and the translation of driver errors.

SQLite: pysqlite's own transaction handling is switched off and the engine emits
``BEGIN IMMEDIATE`` itself, so every writing transaction takes the database write lock
up front and processes sharing the file serialise (SQLAlchemy docs, "Enabling
Non-Legacy SQLite Transactional Modes"). Snapshot reads emit a plain ``BEGIN``.

A writer's database is in WAL mode with ``PRAGMA synchronous`` as configured: ``full``
(the default) fsyncs the WAL at every commit, so a committed record survives power
loss; ``normal`` writes the WAL without syncing it, so a committed record survives the
process crashing or being killed, but not the machine losing power (SQLite docs, "WAL
mode": "durable across application crashes"). Neither setting can corrupt the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from firewall.errors import AuditError, MissingDependencyError
from firewall.sqlite_files import guard_sqlite_file

SNAPSHOT_OPTION = "firewall_audit_snapshot"
SQLITE_BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 10
DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres"}
SqliteSync = Literal["full", "normal"]
SQLITE_SYNC_PRAGMAS: dict[str, str] = {"full": "FULL", "normal": "NORMAL"}


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL, or :class:`AuditError` naming what is wrong with it."""
    try:
        return make_url(url)
    except SQLAlchemyError as exc:
        raise AuditError(f"invalid audit store URL: {exc}") from exc


def display_url(url: URL) -> str:
    """``url`` with any password masked, for messages."""
    return url.render_as_string(hide_password=True)


def make_engine(url: str, *, read_only: bool, sqlite_synchronous: SqliteSync = "full") -> Engine:
    """An engine for ``url``; ``read_only`` never creates or converts a database file."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if sqlite_synchronous not in SQLITE_SYNC_PRAGMAS:
        choices = " or ".join(repr(name) for name in SQLITE_SYNC_PRAGMAS)
        raise AuditError(f"sqlite_synchronous must be {choices}, not {sqlite_synchronous!r}")
    if read_only and backend == "sqlite":
        _require_sqlite_file(parsed)
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except ImportError as exc:
        package = exc.name or backend
        raise MissingDependencyError(package, DRIVER_EXTRAS.get(package, backend)) from exc
    except SQLAlchemyError as exc:
        raise AuditError(f"cannot open audit store {display_url(parsed)}: {exc}") from exc
    if backend == "sqlite":
        _configure_sqlite(engine, wal=not read_only, synchronous=sqlite_synchronous)
        guard_sqlite_file(engine, "audit database", AuditError, same_file_only=False)
    return engine


def snapshot_options(engine: Engine) -> dict[str, Any]:
    """Execution options for one consistent read view of the whole log."""
    if engine.dialect.name == "postgresql":
        return {SNAPSHOT_OPTION: True, "isolation_level": "REPEATABLE READ"}
    return {SNAPSHOT_OPTION: True}


def _require_sqlite_file(url: URL) -> None:
    database = url.database or ""
    plain_path = database not in {"", ":memory:"} and not database.startswith("file:")
    if plain_path and not Path(database).is_file():
        raise AuditError(f"audit database file {database} does not exist")


def _configure_sqlite(engine: Engine, *, wal: bool, synchronous: SqliteSync) -> None:
    pragma = SQLITE_SYNC_PRAGMAS[synchronous]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {pragma}")
            cursor.execute("PRAGMA secure_delete = ON")  # deleted keys are zeroed, not freed
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        snapshot = connection.get_execution_options().get(SNAPSHOT_OPTION, False)
        connection.exec_driver_sql("BEGIN" if snapshot else "BEGIN IMMEDIATE")


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn any database or driver error raised inside into :class:`AuditError`."""
    try:
        yield
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise AuditError(f"audit log could not {action}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    # SQLAlchemy's message embeds the SQL and its parameters; the driver's is enough.
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines() or [""]
    return f"{type(cause).__name__}: {lines[0]}"
