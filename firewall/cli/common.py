"""Options and helpers the CLI sub-commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    """``--db`` if given, else the SQLite file in ``--data-dir`` (or the default data dir)."""
    if db:
        return db
    return sqlite_url(data_dir or DEFAULT_DATA_DIR)
