"""``firewall demo``: the scripted support agent on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from firewall.cli.common import DEFAULT_DATA_DIR
from firewall.errors import MissingDependencyError

APPROVER_MODES = ("scripted", "manual", "rest")


def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Directory for the demo's SQLite stores.")
    ] = DEFAULT_DATA_DIR,
    approver: Annotated[
        str,
        typer.Option(
            help="'scripted' approves holds itself; 'manual' waits for you (CLI); 'rest' runs"
            " `firewall serve` and a supervisor process that approves through its REST API."
        ),
    ] = "scripted",
    otel_console: Annotated[
        bool,
        typer.Option("--otel-console", help="Print the gate's OpenTelemetry spans (extra [otel])."),
    ] = False,
) -> None:
    """Run the demo support agent: allowed, denied, held and approved tool calls."""
    if approver not in APPROVER_MODES:
        choices = ", ".join(APPROVER_MODES)
        raise typer.BadParameter(f"must be one of: {choices}", param_hint="--approver")
    from firewall.examples.support_agent.run import main  # noqa: PLC0415 - heavy imports

    try:
        code = main(data_dir, approver, otel_console=otel_console)
    except MissingDependencyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(code)
