"""``firewall demo``: the scripted support agent on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from firewall.cli.common import DEFAULT_DATA_DIR


def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Directory for the demo's SQLite stores.")
    ] = DEFAULT_DATA_DIR,
    approver: Annotated[
        str,
        typer.Option(help="'scripted' approves holds itself; 'manual' waits for you (CLI)."),
    ] = "scripted",
) -> None:
    """Run the demo support agent: allowed, denied, held and approved tool calls."""
    from firewall.examples.support_agent.run import main  # noqa: PLC0415 - heavy imports

    mode: Literal["scripted", "manual"] = "manual" if approver == "manual" else "scripted"
    raise typer.Exit(main(data_dir, mode))
