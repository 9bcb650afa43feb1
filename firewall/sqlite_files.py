"""Keeping a SQLite store on the file its configuration names.

A SQLite connection holds its database file open. If someone deletes, moves or replaces
the file (a rename over it, a restored copy, another database), the connection goes on
reading and writing the file it opened, which no auditor or other process will ever see
and which is gone when the process exits; in WAL mode SQLite reports none of this. So
each connection pins what it opened: the identity (device, inode) of the database file,
of its ``-wal`` and of its ``-shm``; the store remembers the largest size it saw of each
database file (nothing here vacuums, so a database only grows). Every use of a connection
ends with :func:`check_same_file`: the configured path must still name those files, and
the database must not have shrunk (truncated in place, it keeps its inode). If not, the
connection is invalidated and the store raises its own error naming the path, so the
caller fails closed. Writes already made went to a file nobody reads; the caller must
not trust them (the audit log refuses the call they were for).

Pinning is race-free: the path is stat-ed before the connection opens it and after;
if the two differ, the file changed meanwhile and the connection is refused. Pinning
runs before any other set-up of a new connection, so a refused file is not written.
The WAL and shared-memory files may not exist before the first write; each is pinned
when first seen after a use, and SQLite never removes them while a connection has them
open.

Once a store opened its file, it never creates one again: later connections open the
path with ``mode=rw``, so a deleted database is an error, not a new empty store. With
``same_file_only`` (approvals, freeze list, Slack cards: nothing in them is signed), the
store uses only the file it first opened, for the life of the process: the very same
file put back (renamed back) is used again, any other file is refused until restart.
The audit log accepts another file only if its signed head equals or extends the last
head the writer committed (see :mod:`firewall.audit.continuity`).

Cost: three ``os.stat`` calls per use of a connection (1-2 µs each on Linux); with the
audit log's continuity reads, about 20 µs of CPU per SQLite append (~250 µs) here.
Not covered: a database URL given as a ``file:`` URI (not pinned); a replacement undone
between two checks of one connection (the file A, then B, then A again); a file
rewritten in place (``cp backup.db firewall.db``) to no smaller a size. VACUUM run from
outside shrinks the file and is refused like a truncation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from firewall.errors import StoreError

ErrorFactory = Callable[[str], StoreError]
_PIN = "firewall_sqlite_pin"
_BEFORE = "firewall_sqlite_before"
_SIDE_FILES = ("-wal", "-shm")


FileId = tuple[int, int]
"""Which file a path named: ``(st_dev, st_ino)`` (a plain tuple: this runs per commit)."""


def _stat(path: str) -> tuple[FileId | None, int]:
    """``(identity, size)`` of the file at ``path``; ``(None, 0)`` if there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None, 0
    return (found.st_dev, found.st_ino), found.st_size


@dataclass
class _Pin:
    """The files one connection opened (side files once they exist)."""

    guard: SqliteFileGuard
    db: FileId
    side: dict[str, FileId | None]


class SqliteFileGuard:
    """Pins every connection of one engine to the database file at ``path``."""

    def __init__(self, path: str, what: str, error: ErrorFactory, *, same_file_only: bool) -> None:
        self.path = path
        self._what = what
        self._error = error
        self._same_file_only = same_file_only
        self._first: FileId | None = None
        self._largest: dict[FileId, int] = {}

    def fail(self, problem: str) -> StoreError:
        """The store's error for ``problem``, naming the file."""
        return self._error(f"{self._what} {self.path} {problem}")

    def before_connect(
        self, record: ConnectionPoolEntry, cargs: list[Any], cparams: dict[str, Any]
    ) -> None:
        """Note the file about to be opened; once a store has a file, never create one."""
        found, _ = _stat(self.path)
        record.info[_BEFORE] = found
        if self._first is None:
            cargs[0] = self.path
            return
        if found is None:
            raise self.fail("was deleted or moved away")
        cargs[0] = f"file:{quote(self.path)}?mode=rw"
        cparams["uri"] = True

    def pin(self, dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        """Pin the file the new connection opened, or refuse it (closed by the pool).

        Runs before any other set-up of the connection, so a refused file is not touched.
        """
        before = record.info.pop(_BEFORE, None)
        found, size = _stat(self.path)
        if found is None or (before is not None and found != before):
            raise self.fail("changed while it was being opened")
        if self._first is None:
            self._first = found
        elif self._same_file_only and found != self._first:
            raise self.fail(
                "is not the file this store opened at start (replaced or restored); "
                "restart the firewall to use it"
            )
        problem = self._size_problem(found, size)
        if problem is not None:
            raise self.fail(problem)
        _open_wal(dbapi_connection)
        side = {suffix: _stat(self.path + suffix)[0] for suffix in _SIDE_FILES}
        record.info[_PIN] = _Pin(self, found, side)

    def problem(self, pin: _Pin) -> str | None:
        """What changed at the path since ``pin`` was taken, or None (pins new side files)."""
        found, size = _stat(self.path)
        if found is None:
            return "was deleted or moved away"
        if found != pin.db:
            return "was replaced by another file"
        problem = self._size_problem(found, size)
        if problem is not None:
            return problem
        for suffix, pinned in pin.side.items():
            current, _ = _stat(self.path + suffix)
            if pinned is None:
                pin.side[suffix] = current
            elif current != pinned:
                return f"lost its {suffix} file (deleted or replaced)"
        return None

    def _size_problem(self, found: FileId, size: int) -> str | None:
        """A database only grows (nothing here vacuums): smaller than seen is a truncation."""
        largest = self._largest.get(found, 0)
        if size < largest:
            return f"was truncated ({largest} bytes before, {size} now)"
        self._largest[found] = size
        return None


def guard_sqlite_file(
    engine: Engine, what: str, error: ErrorFactory, *, same_file_only: bool
) -> SqliteFileGuard | None:
    """Pin ``engine``'s connections to its database file (None: not a SQLite file)."""
    path = _database_path(engine)
    if path is None:
        return None
    guard = SqliteFileGuard(path, what, error, same_file_only=same_file_only)

    @event.listens_for(engine, "do_connect")
    def _before(_dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        guard.before_connect(record, cargs, cparams)

    @event.listens_for(engine, "connect", insert=True)
    def _pin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        guard.pin(dbapi_connection, record)

    return guard


def check_same_file(conn: Connection) -> None:
    """After a use of ``conn``: raise the store's error if its file left the path.

    The connection is invalidated first, so the next use opens the path afresh.
    Nothing to check for other databases (or a connection already discarded).
    """
    if conn.closed or conn.invalidated:
        return
    pin = conn.connection.info.get(_PIN)
    if not isinstance(pin, _Pin):
        return
    problem = pin.guard.problem(pin)
    if problem is not None:
        conn.invalidate()
        raise pin.guard.fail(problem)


@contextmanager
def checked_file(conn: Connection) -> Iterator[None]:
    """One use of ``conn`` (put its commit inside), then :func:`check_same_file`.

    Also when the use failed: a file that left the path explains a driver error better.
    """
    try:
        yield
    except Exception:
        check_same_file(conn)
        raise
    check_same_file(conn)


def _open_wal(dbapi_connection: Any) -> None:
    """Read once, so that a database in WAL mode has its -wal and -shm open before pinning."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT count(*) FROM sqlite_master").fetchall()
    finally:
        cursor.close()


def _database_path(engine: Engine) -> str | None:
    url = engine.url
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:") or url.query.get("uri"):
        return None
    return os.path.abspath(Path(database))
