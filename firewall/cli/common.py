"""Options and helpers the CLI sub-commands share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from firewall.config import FirewallConfig

DEFAULT_DATA_DIR = Path(".firewall")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Store URL, e.g. sqlite:///data/firewall.db or postgresql+psycopg://..."
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Directory holding the SQLite stores (default: ./.firewall)."),
]


def sqlite_url(data_dir: Path) -> str:
    """The SQLite URL of the store file inside ``data_dir`` (the directory is created)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / 'firewall.db').resolve()}"


def store_url(db: str | None, data_dir: Path | None) -> str:
    """``--db`` if given, else the SQLite file in ``--data-dir`` (or the default data dir).

    The directory is not created: a command on a mistyped ``--data-dir`` fails, naming it.
    """
    if db:
        return db
    return existing_sqlite_url(data_dir or DEFAULT_DATA_DIR)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="firewall.toml: its [storage] and [approvers] (--db overrides the store),"
        " and its [audit] checkpoint policy.",
    ),
]


def existing_sqlite_url(data_dir: Path) -> str:
    """The SQLite URL of the store file in ``data_dir``, which must exist (nothing is created)."""
    return f"sqlite:///{(data_dir / 'firewall.db').resolve()}"


def configured_url(
    config: FirewallConfig | None, db: str | None, data_dir: Path | None, *, create: bool
) -> str:
    """``--db``, else ``--data-dir``'s file, else the config's store, else ``./.firewall``."""
    if db:
        return db
    if data_dir is None and config is not None:
        return config.storage.approvals()
    data_dir = data_dir or DEFAULT_DATA_DIR
    return sqlite_url(data_dir) if create else existing_sqlite_url(data_dir)


def load_optional_config(path: Path | None) -> FirewallConfig | None:
    """The validated firewall.toml at ``path``, or None without one."""
    from firewall.config import load_config  # noqa: PLC0415 - heavy; only when asked

    return None if path is None else load_config(path)
