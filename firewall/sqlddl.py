"""Creating the firewall's own tables when several processes start at once."""

from __future__ import annotations

from sqlalchemy import Connection, Index, Table, inspect, text
from sqlalchemy.schema import CreateIndex, CreateTable

from firewall.errors import StoreError

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
        check_columns(conn, table)
    for index in indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))


def hold_creation_lock(conn: Connection) -> None:
    """On PostgreSQL, wait for the lock every firewall table creation takes (transaction-scoped)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": _CREATE_LOCK})


def check_columns(conn: Connection, table: Table) -> None:
    """Refuse a table created by an older version that lacks columns this one needs.

    ``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is; without this check
    the first read or write would fail, far from the cause. Until migrations are managed,
    the error says what is missing and how to move on.
    """
    present = {column["name"] for column in inspect(conn).get_columns(table.name)}
    missing = [column.name for column in table.columns if column.name not in present]
    if missing:
        raise StoreError(
            f"table {table.name!r} was created by an older version of the firewall and lacks"
            f" the column(s) {', '.join(missing)}; migrate it (README, 'Upgrading a database')"
        )
