"""Read-only commands open stores that exist; they never create one.

A mistyped ``--data-dir`` or ``--db`` must be an error naming what is missing, not a
fresh empty database that answers "No pending holds.".
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from firewall.errors import ConfigError, StoreError


def require_existing(url: str, table: str) -> None:
    """Raise :class:`StoreError` unless the database at ``url`` exists and holds ``table``."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError("--db", f"not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise StoreError("an in-memory database holds no store to read")
        if not Path(database).is_file():
            raise StoreError(
                f"there is no store at {database} (no such file): check --data-dir / --db"
            )
    engine = create_engine(parsed)
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table(table)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        where = parsed.render_as_string(hide_password=True)
        raise StoreError(f"cannot open the store at {where}: {reason}") from exc
    finally:
        engine.dispose()
    if not present:
        where = parsed.render_as_string(hide_password=True)
        raise StoreError(f"the database {where} has no {table!r} table: not a firewall store")
