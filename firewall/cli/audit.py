"""``firewall audit``: verify the hash chain, show records."""

from __future__ import annotations

import json
from collections import deque
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from firewall.audit.findings import VerifyReport
from firewall.audit.records import AuditRecord
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import verify_store
from firewall.cli.common import DataDirOption, DbOption, store_url
from firewall.errors import AuditError, MissingDependencyError

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Verify and inspect the audit chain."
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
EXIT_UNREADABLE = 2


@app.command()
def verify(
    db: DbOption = None, data_dir: DataDirOption = None, as_json: JsonOption = False
) -> None:
    """Check every hash, link and sequence number; exit 0 valid, 1 tampered, 2 inconclusive."""
    report = verify_store(store_url(db, data_dir))
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_report(report, _console())
    raise typer.Exit(int(report.exit_status))


@app.command()
def show(
    db: DbOption = None,
    data_dir: DataDirOption = None,
    call_id: Annotated[str | None, typer.Option("--call-id", help="Only this call.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show the last N records.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Print the last records of the log (or of one call) as a table."""
    try:
        records = _last_records(store_url(db, data_dir), call_id, limit)
    except (AuditError, MissingDependencyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from exc
    if as_json:
        typer.echo(json.dumps([record.model_dump(mode="json") for record in records], indent=2))
    else:
        _console().print(render_records(records))


def print_report(report: VerifyReport, console: Console) -> None:
    """The verdict, every finding, and the in-doubt calls, for people."""
    console.print(report.summary(), style=_STATUS_STYLES[report.status])
    for finding in report.findings:
        console.print(
            f"  seq {finding.seq}: {finding.kind.value}: {finding.message} "
            f"(expected {finding.expected}, found {finding.found})"
        )
    hidden = report.findings_total - len(report.findings)
    if hidden:
        console.print(f"  ... and {hidden} more findings")
    if report.in_doubt:
        console.print("In doubt (allowed, no outcome recorded):", style="yellow")
    for call in report.in_doubt:
        console.print(f"  {call.call_id} (tool {call.tool}, decision at seq {call.seq})")


def render_records(records: list[AuditRecord]) -> Table:
    """The records as a rich table."""
    table = Table()
    for header in ("seq", "time", "event", "call id", "tool", "outcome", "code", "reasons"):
        table.add_column(header, overflow="fold")
    for record in records:
        table.add_row(
            str(record.seq),
            record.time,
            record.event,
            record.call_id or "",
            record.tool or "",
            record.outcome or "",
            record.code or "",
            "; ".join(record.reasons),
        )
    return table


_STATUS_STYLES = {"valid": "bold green", "tampered": "bold red", "inconclusive": "bold yellow"}


def _last_records(url: str, call_id: str | None, limit: int) -> list[AuditRecord]:
    with SqlAuditLog(url, create=False) as log:
        if call_id is not None:
            return log.records_for_call(call_id)[-limit:]
        with log.snapshot() as view:
            head = view.head()
            start = max(1, head[0] - limit + 1) if head else 1
            return list(deque(view.records(start), maxlen=limit))


def _console() -> Console:
    # Created per command so that output goes to the current stdout (and CliRunner).
    return Console(markup=False, highlight=False, soft_wrap=True)
