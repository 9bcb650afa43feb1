"""Shared freeze lists: a Redis hash, or a table in the SQL database; chosen by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from firewall.containment.freeze import FreezeEntry, FreezeStore, MemoryFreezeStore
from firewall.containment.settings import LimitSettings
from firewall.containment.stores import describe_url, is_redis, redis_client
from firewall.errors import StoreError
from firewall.sqlddl import create_missing
from firewall.sqlite_files import checked_file, guard_sqlite_file

_metadata = MetaData()
freezes_table = Table(
    "firewall_freezes",
    _metadata,
    Column("target", String(160), primary_key=True),
    Column("entry", Text, nullable=False),
)


class RedisFreezeStore:
    """The freeze list as one Redis hash: ``<prefix>:freezes`` (target -> entry JSON)."""

    def __init__(self, url: str, settings: LimitSettings | None = None) -> None:
        settings = settings or LimitSettings()
        self.where = describe_url(url)
        self._key = f"{settings.key_prefix}:freezes"
        self._client = redis_client(url, settings.timeout_s)

    def freeze(self, entry: FreezeEntry, *, overwrite: bool = True) -> bool:
        data = entry.model_dump_json()
        if overwrite:
            return bool(self._client.hset(self._key, entry.target, data))
        return bool(self._client.hsetnx(self._key, entry.target, data))

    def unfreeze(self, target: str) -> bool:
        return bool(self._client.hdel(self._key, target))

    def snapshot(self) -> dict[str, FreezeEntry]:
        raw = self._client.hgetall(self._key)
        return {str(k): FreezeEntry.model_validate_json(v) for k, v in raw.items()}

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()


class SqlFreezeStore:
    """The freeze list as the ``firewall_freezes`` table (created if missing).

    A SQLite file is pinned (see :mod:`firewall.sqlite_files`): a freeze list whose file
    was deleted or replaced raises :class:`StoreError` (the kill switch fails closed)
    instead of answering from a copy no operator writes to any more.
    """

    def __init__(self, url: str) -> None:
        self.where = describe_url(url)
        self._engine = create_engine(url)
        guard_sqlite_file(self._engine, "freeze list database", StoreError, same_file_only=True)
        with self._transaction() as conn:
            create_missing(conn, freezes_table)

    def freeze(self, entry: FreezeEntry, *, overwrite: bool = True) -> bool:
        data = entry.model_dump_json()
        try:
            with self._transaction() as conn:
                conn.execute(insert(freezes_table).values(target=entry.target, entry=data))
        except IntegrityError:
            if overwrite:
                with self._transaction() as conn:
                    change = sql_update(freezes_table).values(entry=data)
                    conn.execute(change.where(freezes_table.c.target == entry.target))
            return False
        return True

    def unfreeze(self, target: str) -> bool:
        with self._transaction() as conn:
            result = conn.execute(delete(freezes_table).where(freezes_table.c.target == target))
        return bool(result.rowcount)

    def snapshot(self) -> dict[str, FreezeEntry]:
        with self._transaction() as conn:
            rows = conn.execute(select(freezes_table.c.target, freezes_table.c.entry)).all()
        return {row.target: FreezeEntry.model_validate_json(row.entry) for row in rows}

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A transaction, committed, then checked to be in the file at the configured path."""
        with self._engine.connect() as conn, checked_file(conn), conn.begin():
            yield conn

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()


def freeze_store_from_url(url: str, settings: LimitSettings | None = None) -> FreezeStore:
    """``memory://``, ``redis://…``, or a SQLAlchemy URL (``sqlite:///…``, ``postgresql+psycopg://…``)."""
    if is_redis(url):
        return RedisFreezeStore(url, settings)
    if url.startswith("memory://"):
        return MemoryFreezeStore()
    return SqlFreezeStore(url)
