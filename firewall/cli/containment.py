"""``firewall freeze`` / ``unfreeze`` / ``frozen``: the kill switch, from a terminal.

The freeze list is the one the firewalls read: Redis (``--redis`` or the config's
``limits_url``) or, without Redis, the SQL store (``--db`` / ``--data-dir``). Every
workers' next check sees a change within ``freeze_cache_s`` (0.5 s by default). Freezing
takes effect first and is audited next; lifting a freeze is audited first.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from firewall.audit.events import AuditEvent
from firewall.audit.store import SqlAuditLog
from firewall.cli.common import DataDirOption, DbOption, store_url
from firewall.config import load_config
from firewall.containment.control import Containment
from firewall.containment.freeze import FreezeTarget
from firewall.containment.freeze_stores import freezes_table
from firewall.containment.settings import LimitSettings
from firewall.containment.stores import is_redis
from firewall.errors import AuditError, FirewallError
from firewall.existing_store import require_existing
from firewall.factory import containment as configured_containment

EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 2

AgentOption = Annotated[str | None, typer.Option("--agent", help="Freeze one agent (its id).")]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="Freeze a whole tenant.")]
AllOption = Annotated[bool, typer.Option("--all", help="Freeze every call of every agent.")]
OperatorOption = Annotated[str, typer.Option("--as", help="Who you are, for the audit.")]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="firewall.toml: use its freeze list and audit log."),
]
RedisOption = Annotated[
    str | None,
    typer.Option("--redis", help="Redis URL of the shared freeze list (redis://host:6379/0)."),
]
PrefixOption = Annotated[
    str, typer.Option("--key-prefix", help="Redis key prefix, as in [limits] key_prefix.")
]


def freeze(
    *,
    operator: OperatorOption,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the agent and the audit.")],
    agent: AgentOption = None,
    tenant: TenantOption = None,
    everything: AllOption = False,
    config: ConfigOption = None,
    redis: RedisOption = None,
    key_prefix: PrefixOption = "firewall",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Stop the calls of an agent, a tenant, or all calls, in every worker within a second."""
    target = _target(agent, tenant, everything)
    with _reported_errors(), _containment(config, redis, key_prefix, db, data_dir) as control:
        entry = control.freeze(target, reason=reason, by=operator)
    _out().print(f"[red]Frozen[/red] {escape(entry.target)}: {escape(entry.reason)}")


def unfreeze(
    *,
    operator: OperatorOption,
    agent: AgentOption = None,
    tenant: TenantOption = None,
    everything: AllOption = False,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit.")] = "",
    config: ConfigOption = None,
    redis: RedisOption = None,
    key_prefix: PrefixOption = "firewall",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Lift a freeze (audited first); exit 1 if the target was not frozen."""
    target = _target(agent, tenant, everything)
    with _reported_errors(), _containment(config, redis, key_prefix, db, data_dir) as control:
        lifted = control.unfreeze(target, by=operator, reason=reason)
    if not lifted:
        _err().print(f"{escape(target.key)} was not frozen.")
        raise typer.Exit(EXIT_REFUSED)
    _out().print(f"[green]Unfrozen[/green] {escape(target.key)}")


def frozen(
    *,
    config: ConfigOption = None,
    redis: RedisOption = None,
    key_prefix: PrefixOption = "firewall",
    db: DbOption = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the freezes in force."""
    with (
        _reported_errors(),
        _containment(config, redis, key_prefix, db, data_dir, read_only=True) as control,
    ):
        entries = control.frozen()
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    if not entries:
        _out().print("Nothing is frozen.")
    for entry in entries:
        _out().print(escape(entry.describe()))


def _target(agent: str | None, tenant: str | None, everything: bool) -> FreezeTarget:
    chosen = [
        flag for flag, on in (("--agent", agent), ("--tenant", tenant), ("--all", everything)) if on
    ]
    if len(chosen) != 1:
        raise typer.BadParameter("give exactly one of --agent, --tenant or --all")
    if everything:
        return FreezeTarget(kind="all")
    try:
        return (
            FreezeTarget(kind="agent", name=agent)
            if agent
            else FreezeTarget(kind="tenant", name=tenant or "")
        )
    except ValidationError as exc:  # a look-alike name would freeze nobody
        raise typer.BadParameter(exc.errors()[0]["msg"], param_hint=chosen[0]) from exc


class _ReadOnlyAudit:
    """The audit sink of a command that only reads (``frozen``): it needs no key."""

    def append(self, event: AuditEvent) -> object:
        raise AuditError(f"a read-only command cannot audit {event.event!r}")

    def close(self) -> None:
        """Nothing to release."""


@contextmanager
def _containment(
    config: Path | None,
    redis: str | None,
    key_prefix: str,
    db: str | None,
    data_dir: Path | None,
    *,
    read_only: bool = False,
) -> Iterator[Containment]:
    audit: SqlAuditLog | _ReadOnlyAudit
    if config is not None:
        loaded = load_config(config)
        if read_only and not is_redis(loaded.storage.freeze()):
            require_existing(loaded.storage.freeze(), freezes_table.name)
        audit = _ReadOnlyAudit() if read_only else SqlAuditLog(loaded.storage.audit())
        control = configured_containment(loaded, audit)
    else:
        url = store_url(db, data_dir)
        if read_only and not redis:
            require_existing(url, freezes_table.name)  # a mistyped --data-dir makes nothing
        audit = _ReadOnlyAudit() if read_only else SqlAuditLog(url)
        settings = LimitSettings(key_prefix=key_prefix)
        control = Containment(
            storage_url=redis or "memory://",
            freeze_url=redis or url,
            settings=settings,
            audit=audit,
        )
    try:
        yield control
    finally:
        control.close()
        audit.close()


@contextmanager
def _reported_errors() -> Iterator[None]:
    try:
        yield
    except FirewallError as exc:
        _err().print(f"[red]Error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_UNAVAILABLE) from exc
    except Exception as exc:  # an unreachable store: exit 2
        _err().print(f"[red]Error:[/red] freeze list unavailable ({type(exc).__name__})")
        raise typer.Exit(EXIT_UNAVAILABLE) from exc


def _out() -> Console:
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)
