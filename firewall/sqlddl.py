"""Creating the firewall's own tables when several processes start at once."""

from __future__ import annotations

from sqlalchemy import Connection, Index, Table, text
from sqlalchemy.schema import CreateIndex, CreateTable

_CREATE_LOCK = "firewall:create-tables"


def create_missing(conn: Connection, *tables: Table, indexes: tuple[Index, ...] = ()) -> None:
    """Create ``tables`` and ``indexes`` that do not exist yet, in ``conn``'s transaction.

    On PostgreSQL, ``CREATE TABLE IF NOT EXISTS`` is not atomic: two processes creating
    the same table at once can both pass the check, and one fails on a unique index of the
    catalog. A transaction-scoped advisory lock makes them take turns.
    """
    hold_creation_lock(conn)
    for table in tables:
        conn.execute(CreateTable(table, if_not_exists=True))
    for index in indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))


def hold_creation_lock(conn: Connection) -> None:
    """On PostgreSQL, wait for the lock every firewall table creation takes (transaction-scoped)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": _CREATE_LOCK})
