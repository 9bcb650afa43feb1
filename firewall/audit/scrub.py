"""After an erasure: get the deleted keys out of the database files, or say it could not.

Deleting a row does not remove its bytes: SQLite keeps them in free pages and in the WAL,
PostgreSQL in dead tuples of the table's heap and index files. A copy of the disk would
still hold the erased subject's key. So after erasing:

* **SQLite**: ``secure_delete`` is on for every connection (deleted content is zeroed);
  the WAL is checkpointed and truncated, the file rebuilt with ``VACUUM``, and the WAL
  truncated again. Done only if both checkpoints completed (no reader held the WAL back)
  and the WAL file is empty.
* **PostgreSQL**: ``VACUUM (FULL)`` of the tables that held the key (a new file for
  each: the old one is truncated at commit), then ``CHECKPOINT``. Done only if every
  table's file was indeed replaced (a non-owner's VACUUM is silently skipped).

Neither can reach copies the database does not own: PostgreSQL's WAL segments (until
recycled), WAL archives, replicas, snapshots and backups.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_LOCK_TIMEOUT = "30s"


@dataclass
class FileScrub:
    """What was done to one database's files, where it looked, and what failed."""

    database: str
    done: list[str] = field(default_factory=list)
    looked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True iff the keys are gone from every file looked at."""
        return not self.problems


def scrub_files(engine: Engine, tables: Sequence[str]) -> FileScrub:
    """Remove deleted rows of ``tables`` from the files of ``engine``'s database."""
    if engine.dialect.name == "sqlite":
        return _scrub_sqlite(engine.url.database or "")
    if engine.dialect.name == "postgresql":
        return _scrub_postgres(engine, tables)
    report = FileScrub(engine.dialect.name)
    report.problems.append(f"no file clean-up known for {engine.dialect.name}")
    return report


def _scrub_sqlite(database: str) -> FileScrub:
    report = FileScrub(f"SQLite {database}")
    if database in {"", ":memory:"} or database.startswith("file:"):
        report.done.append("in-memory database: nothing on disk")
        return report
    path = Path(database)
    wal = path.with_name(path.name + "-wal")
    report.looked += [str(path), str(wal), str(path.with_name(path.name + "-journal"))]
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        report.problems.append(f"cannot open: {exc}")
        return report
    try:
        conn.execute("PRAGMA secure_delete = ON")
        before = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        _checkpoint(conn, report, "before VACUUM")
        conn.execute("VACUUM")
        _checkpoint(conn, report, "after VACUUM")
    except sqlite3.Error as exc:
        report.problems.append(f"VACUUM failed: {exc}")
        return report
    finally:
        conn.close()
    if wal.exists() and wal.stat().st_size != 0:
        report.problems.append(f"{wal} still holds {wal.stat().st_size} bytes")
    report.done.append(
        f"secure_delete on, WAL checkpointed and truncated, VACUUM rebuilt the file "
        f"({before} -> {path.stat().st_size} bytes)"
    )
    return report


def _checkpoint(conn: sqlite3.Connection, report: FileScrub, when: str) -> None:
    busy, log_frames, copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        report.problems.append(
            f"WAL checkpoint {when} blocked by a reader ({copied} of {log_frames} frames copied)"
        )


def _scrub_postgres(engine: Engine, tables: Sequence[str]) -> FileScrub:
    report = FileScrub(f"PostgreSQL {engine.url.render_as_string(hide_password=True)}")
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"SET lock_timeout = '{POSTGRES_LOCK_TIMEOUT}'"))
            for table in tables:
                _vacuum_full(conn, table, report)
            try:
                conn.execute(text("CHECKPOINT"))
                report.done.append("CHECKPOINT: the rewritten files are on disk")
            except SQLAlchemyError as exc:
                report.done.append(
                    f"CHECKPOINT not permitted ({_first_line(exc)}): the server writes the "
                    "new files at its next checkpoint"
                )
    except SQLAlchemyError as exc:
        report.problems.append(f"cannot clean up: {_first_line(exc)}")
    return report


def _vacuum_full(conn: Connection, table: str, report: FileScrub) -> None:
    """``VACUUM (FULL)`` one table; a problem unless its file was replaced."""
    path = text("SELECT pg_relation_filepath(to_regclass(:t))")
    before = conn.execute(path, {"t": table}).scalar()
    if before is None:
        return  # no such table in this database
    report.looked.append(f"{table} ({before}, its indexes and TOAST)")
    try:
        conn.execute(text(f'VACUUM (FULL) "{table}"'))
    except SQLAlchemyError as exc:
        report.problems.append(f"VACUUM (FULL) {table} failed: {_first_line(exc)}")
        return
    after = conn.execute(path, {"t": table}).scalar()
    if after == before:
        report.problems.append(f"VACUUM (FULL) {table} did not rewrite it (not its owner?)")
        return
    report.done.append(f"VACUUM (FULL) {table}: rewritten ({before} -> {after}), old file gone")


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause) else ''}"
