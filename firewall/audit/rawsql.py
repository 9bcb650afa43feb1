"""The few statements every append runs, sent straight to the DBAPI driver.

SQLAlchemy's statement machinery costs about 0.1 ms of CPU per statement on top of the
driver; an append runs several, and on a small machine that was most of its cost. The
schema (:mod:`firewall.audit.schema`) stays the single source of the table layout;
these statements run inside transactions SQLAlchemy began, on the same connection.
SQL is written with ``%(name)s`` parameters and converted for sqlite3's ``:name``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Connection

_PARAMETER = re.compile(r"%\((\w+)\)s")


@cache
def _for_sqlite(sql: str) -> str:
    return (
        _PARAMETER.sub(r":\1", sql)
        .replace(" FOR UPDATE SKIP LOCKED", "")
        .replace(" FOR UPDATE", "")
    )


class Statements(Protocol):
    """Somewhere to run the writer's statements."""

    def run(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Execute a statement that returns no rows."""
        ...

    def run_many(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        """Execute a statement once per parameter set."""
        ...


class RawSql:
    """Run SQL on the DBAPI connection under a SQLAlchemy connection's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.postgres = conn.dialect.name == "postgresql"
        self._driver: Any = conn.connection.driver_connection

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Execute a query and fetch every row."""
        cursor = self._driver.cursor()
        try:
            cursor.execute(self._sql(sql), params or {})
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def run(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Execute a statement that returns no rows."""
        cursor = self._driver.cursor()
        try:
            cursor.execute(self._sql(sql), params or {})
        finally:
            cursor.close()

    def run_many(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        """Execute a statement once per parameter set (pipelined by psycopg)."""
        if len(rows) == 1:
            self.run(sql, rows[0])
        elif rows:
            cursor = self._driver.cursor()
            try:
                cursor.executemany(self._sql(sql), rows)
            finally:
                cursor.close()

    def _sql(self, sql: str) -> str:
        return sql if self.postgres else _for_sqlite(sql)
