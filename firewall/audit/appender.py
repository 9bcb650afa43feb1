"""Getting events onto the chain fast without giving up "durable before it returns".

Two levels of group commit:

* In one process, :class:`~firewall.audit.group.GroupCommit` lets the thread that gets
  the commit lock seal every event queued meanwhile by other threads, in one transaction.
* Across processes on PostgreSQL, :class:`~firewall.audit.handoff.HandoffSealer` hands
  events over through a table, so whoever holds the head lock seals for everyone.

A call returns only after the transaction holding its records has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from firewall.audit.heads import PendingEntry
from firewall.audit.jcs import canonical
from firewall.audit.rawsql import RawSql
from firewall.audit.records import SealedRecord
from firewall.audit.vault import protect, subject_of
from firewall.audit.vault_store import SubjectKeyCache, subject_keys
from firewall.audit.writer import ChainWriter
from firewall.sqlite_files import checked_file


def prepare(
    conn: Connection, events: Sequence[dict[str, Any]], cache: SubjectKeyCache | None = None
) -> list[PendingEntry]:
    """Protect the personal data of ``events`` and encode them canonically."""
    subjects = [subject_of(data) for data in events]
    wanted = {subject for subject in subjects if subject is not None}
    keys = cache.keys(conn, wanted) if cache else subject_keys(conn, wanted)
    entries = []
    for data, subject in zip(events, subjects, strict=True):
        protected, values = protect(data, keys[subject] if subject is not None else None)
        entries.append(
            PendingEntry(canonical(protected), data["event"], data.get("call_id"), values)
        )
    return entries


class SealingSession:
    """One connection kept for sealing: no pool checkout, ping or reset per append.

    Only the holder of the :class:`GroupCommit` lock uses it. A connection the driver
    reports broken is dropped (that append fails: fail closed) and replaced next time.
    """

    def __init__(
        self, engine: Engine, on_connect: Callable[[Connection], None] | None = None
    ) -> None:
        self._engine = engine
        self._on_connect = on_connect
        self._conn: Connection | None = None

    @property
    def dbapi_error(self) -> type[Exception]:
        """The DBAPI driver's base error class."""
        error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        return error

    def driver(self) -> Any:
        """The DBAPI driver's own connection, to run statements on directly."""
        return self._connection().connection.driver_connection

    def discard_transaction(self) -> None:
        """Roll back whatever the driver connection was doing; drop it if that fails."""
        try:
            self.driver().rollback()
        except Exception:  # noqa: BLE001 - a connection that cannot roll back is dropped
            if self._conn is not None:
                self._conn.invalidate()
            self.close()

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect()
            if self._on_connect is not None:
                with self._conn.begin():
                    self._on_connect(self._conn)
        return self._conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction on the kept connection, committed when the block ends.

        Committed, and then checked to be in the file at the configured path (SQLite; see
        :mod:`firewall.sqlite_files`): a commit to a deleted or replaced file raises.
        """
        self._conn = conn = self._connection()
        try:
            with checked_file(conn), conn.begin():
                yield conn
        except DBAPIError as exc:
            if exc.connection_invalidated:
                self.close()
            raise

    def close(self) -> None:
        """Return the connection to the pool."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class DirectSealer:
    """Seal in one transaction that holds the head lock throughout (SQLite).

    ``on_checkpoint`` receives each checkpoint note stored, after its commit.
    """

    def __init__(
        self,
        engine: Engine,
        writer: ChainWriter,
        on_checkpoint: Callable[[str], None],
        subject_keys: SubjectKeyCache,
    ) -> None:
        self.session = SealingSession(engine, self._on_connect)
        self.writer = writer
        self.on_checkpoint = on_checkpoint
        self.subject_keys = subject_keys

    def _on_connect(self, conn: Connection) -> None:
        """Prepare a fresh connection (nothing to do here)."""

    def __call__(self, events: Sequence[dict[str, Any]]) -> list[SealedRecord]:
        with self.session.begin() as conn:
            head = self.writer.lock_head(conn)
            entries = prepare(conn, events, self.subject_keys)
            records, note = self.writer.append(RawSql(conn), head, entries)
        self.writer.continuity.committed()
        if note:
            self.on_checkpoint(note)
        return records
