"""``firewall approvals``: list, show, approve and deny held calls."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from firewall.approvals import ApprovalService, HoldRecord, HoldState, SqlApprovalStore
from firewall.approvals.journal import DecisionJournal
from firewall.approvals.service import utc_now
from firewall.cli.common import (
    ConfigOption,
    DataDirOption,
    DbOption,
    configured_url,
    load_optional_config,
)
from firewall.errors import ApprovalError, ConfigError, FirewallError

GROUPS_ENV = "FIREWALL_APPROVER_GROUPS"
EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 2

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)
PIPED_WIDTH = 200

AllOption = Annotated[bool, typer.Option("--all", help="Include decided and expired holds.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
HoldIdArgument = Annotated[str, typer.Argument(help="The hold id, e.g. hold_3f9c...")]
ApproverOption = Annotated[str, typer.Option("--as", help="Your approver id, e.g. alice.")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why, for the audit.")]
GroupsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--groups-file",
        help="JSON or TOML file mapping approver groups to ids, or a firewall.toml (its"
        f" [approvers] table); default: --config's [approvers], else ${GROUPS_ENV}.",
    ),
]

_groups_adapter = TypeAdapter(dict[str, list[str]])


def load_groups(groups_file: Path | None) -> dict[str, frozenset[str]]:
    """Approver groups from ``groups_file`` (JSON or TOML), else ``$FIREWALL_APPROVER_GROUPS``.

    With neither, there are no groups: nobody may approve anything.
    """
    if groups_file is not None:
        source = str(groups_file)
        try:
            text = groups_file.read_text(encoding="utf-8")
            raw: Any = tomllib.loads(text) if groups_file.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(source, f"cannot read approver groups: {exc}") from exc
        if groups_file.suffix == ".toml" and isinstance(raw.get("approvers"), dict):
            raw = raw["approvers"]  # a firewall.toml: its [approvers] table
    elif GROUPS_ENV in os.environ:
        source = f"${GROUPS_ENV}"
        try:
            raw = json.loads(os.environ[GROUPS_ENV])
        except ValueError as exc:
            raise ConfigError(source, f"approver groups are not JSON: {exc}") from exc
    else:
        return {}
    try:
        groups = _groups_adapter.validate_python(raw)
    except ValidationError as exc:
        message = "must map approver group names to lists of approver ids"
        raise ConfigError(source, message) from exc
    return {name: frozenset(members) for name, members in groups.items()}


@contextmanager
def build_service(url: str, groups: Mapping[str, Collection[str]]) -> Iterator[ApprovalService]:
    """The approval service on the (existing) store at ``url``, closed on exit.

    Decisions and refusals go to the store's decision journal, never to the audit chain
    directly: an approver holds no audit signing key (see
    :mod:`firewall.approvals.journal`).
    """
    with SqlApprovalStore(url, create=False) as store:
        yield ApprovalService(store, DecisionJournal(store), groups)


def _groups(config: Path | None, groups_file: Path | None) -> dict[str, frozenset[str]]:
    """``--groups-file`` (or ``$FIREWALL_APPROVER_GROUPS``), else ``--config``'s [approvers]."""
    loaded = load_optional_config(config) if groups_file is None else None
    return dict(loaded.approvers) if loaded is not None else load_groups(groups_file)


def _url(config: Path | None, db: str | None, data_dir: Path | None) -> str:
    return configured_url(load_optional_config(config), db, data_dir, create=False)


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Refusals exit 1; an unreachable store or bad configuration exits 2."""
    try:
        yield
    except ApprovalError as exc:
        _err().print(f"[red]Refused ({exc.code}):[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_REFUSED) from exc
    except FirewallError as exc:
        _err().print(f"[red]Error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_UNAVAILABLE) from exc


@app.command("list")
def list_holds(
    show_all: AllOption = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List pending holds (all holds with --all)."""
    with _reported_errors(), SqlApprovalStore(_url(config, db, data_dir), create=False) as store:
        records = store.list(None if show_all else HoldState.PENDING)
    if as_json:
        _print_json([record.model_dump(mode="json") for record in records])
    elif not records:
        _out().print("No holds." if show_all else "No pending holds.")
    else:
        _out().print(_holds_table(records, utc_now()))


@app.command("show")
def show(
    hold_id: HoldIdArgument,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one hold: the call, who may decide it, and what was decided."""
    with _reported_errors(), SqlApprovalStore(_url(config, db, data_dir), create=False) as store:
        record = store.get(hold_id)
        if record is None:
            raise ApprovalError("unknown_hold", f"there is no hold {hold_id!r}", hold_id=hold_id)
    if as_json:
        _print_json(record.model_dump(mode="json"))
    else:
        _out().print(_hold_details(record, utc_now()))


@app.command("approve")
def approve(
    hold_id: HoldIdArgument,
    approver: ApproverOption,
    *,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    groups_file: GroupsFileOption = None,
) -> None:
    """Approve a held call as one member of its approver group."""
    with _reported_errors():
        groups = _groups(config, groups_file)
        with build_service(_url(config, db, data_dir), groups) as service:
            record = service.approve(hold_id, approver)
    if record.state is HoldState.APPROVED:
        _out().print(f"[green]Approved[/green] hold {hold_id} ({', '.join(record.approvals)}).")
    else:
        count = f"{len(record.approvals)} of {record.quorum}"
        _out().print(f"Recorded approval by {escape(approver)} of hold {hold_id} ({count}).")


@app.command("deny")
def deny(
    hold_id: HoldIdArgument,
    approver: ApproverOption,
    *,
    reason: ReasonOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    groups_file: GroupsFileOption = None,
) -> None:
    """Deny a held call; the call will not run."""
    with _reported_errors():
        groups = _groups(config, groups_file)
        with build_service(_url(config, db, data_dir), groups) as service:
            service.deny(hold_id, approver, reason)
    suffix = f": {escape(reason)}" if reason else "."
    _out().print(f"[yellow]Denied[/yellow] hold {hold_id}{suffix}")


def _out() -> Console:
    """Standard output; piped output is not squeezed into 80 columns."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else PIPED_WIDTH)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def _holds_table(records: list[HoldRecord], now: datetime) -> Table:
    table = Table("ID", "Tool", "Agent", "Tenant", "Amount", "Reasons", "State", "Expires")
    table.columns[0].no_wrap = True
    for record in records:
        amount = record.amount
        table.add_row(
            record.hold_id,
            escape(record.tool),
            escape(str(record.principal.get("agent_id", ""))),
            escape(str(record.principal.get("tenant", ""))),
            "" if amount is None else escape(str(amount)),
            escape("\n".join(record.reasons)),
            record.state.value,
            _expiry(record, now),
        )
    return table


def _hold_details(record: HoldRecord, now: datetime) -> Table:
    table = Table(show_header=False, box=None)
    rows = {
        "Hold": record.hold_id,
        "Call": record.call_id,
        "Tool": record.tool,
        "Args": json.dumps(record.args, indent=2, sort_keys=True),
        "Principal": json.dumps(record.principal, sort_keys=True),
        "Reasons": "\n".join(record.reasons),
        "Approvers": f"{record.approvers or '(none)'} (quorum {record.quorum})",
        "State": record.state.value,
        "Approvals": ", ".join(record.approvals),
        "Decided by": ", ".join(record.decided_by),
        "Decided at": record.decided_at.isoformat() if record.decided_at else "",
        "Decision reason": record.decision_reason or "",
        "Created": record.created_at.isoformat(),
        "Digest": record.digest,
    }
    for label, value in rows.items():
        table.add_row(f"[bold]{label}[/bold]", escape(value))
    table.add_row("[bold]Expires[/bold]", _expiry(record, now))
    return table


def _expiry(record: HoldRecord, now: datetime) -> str:
    text = record.expires_at.strftime("%Y-%m-%d %H:%M:%SZ")
    if record.state is HoldState.PENDING and record.is_due(now):
        return f"[red]{text} (overdue)[/red]"
    return text
