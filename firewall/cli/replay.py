"""``firewall policy replay``: how would a candidate policy have decided past calls?

Exit codes: 0 no decision would change, 1 some would (listed), 2 the replay could not run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from firewall.audit.store import SqlAuditLog
from firewall.cli.common import DataDirOption, DbOption, store_url
from firewall.errors import FirewallError
from firewall.policy.embedded import RegoEngine
from firewall.policy.replay import ReplayReport, replay

PolicyOption = Annotated[
    Path, typer.Option("--policy", help="Directory of the candidate Rego policy.")
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only decisions at or after this ISO time, e.g. 2026-11-01."),
]


def replay_command(
    policy: PolicyOption,
    since: SinceOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
) -> None:
    """Re-evaluate audited decisions with the policy in --policy; list those that change."""
    try:
        report = _replay(policy, _since(since), store_url(db, data_dir))
    except (FirewallError, ValueError) as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {exc}")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(
            json.dumps(
                report.model_dump(mode="json") | {"by_transition": report.transitions()}, indent=2
            )
        )
    else:
        _print(report)
    raise typer.Exit(1 if report.changed else 0)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r} is not an ISO date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _replay(policy: Path, since: datetime | None, url: str) -> ReplayReport:
    engine = RegoEngine(policy)
    try:
        with SqlAuditLog(url, create=False) as log, log.snapshot() as view:
            return replay(view.records(), engine, view.reveal, since)
    finally:
        engine.close()


def _print(report: ReplayReport) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if report.changed:
        table = Table(title=f"Decisions that change under policy {report.revision}")
        for header in ("seq", "time", "call id", "tool", "change", "candidate's reasons"):
            table.add_column(header, overflow="fold")
        for change in report.changed:
            table.add_row(
                str(change.seq),
                change.time,
                change.call_id or "",
                change.tool or "",
                change.transition,
                "; ".join(change.candidate_reasons),
            )
        console.print(table)
    summary = ", ".join(f"{n} {t}" for t, n in sorted(report.transitions().items()))
    console.print(
        f"{report.replayed} decisions replayed, {len(report.changed)} would change"
        + (f" ({summary})" if summary else "")
    )
    for reason, count in sorted(report.skipped.items()):
        console.print(f"not replayed: {count} ({reason})")
