"""``firewall freeze`` / ``unfreeze`` / ``frozen``: the kill switch from a terminal, audited."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from firewall.audit.keyfiles import ensure_dev_key
from firewall.audit.store import SqlAuditLog
from firewall.cli.common import sqlite_url
from firewall.cli.containment import freeze, frozen, unfreeze
from firewall.containment.freeze import CachedFreezes
from firewall.containment.freeze_stores import RedisFreezeStore, SqlFreezeStore
from firewall.containment.settings import LimitSettings
from firewall.types import Principal
from tests.containment.helpers import closed_port, delete_prefix

BOT = Principal(agent_id="bot-1", tenant="acme")

app = typer.Typer()
app.command("freeze")(freeze)
app.command("unfreeze")(unfreeze)
app.command("frozen")(frozen)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory with an audit signing key, as the demo leaves it."""
    ensure_dev_key(tmp_path)
    return tmp_path


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def audit_events(data_dir: Path) -> list[tuple[str, dict[str, object]]]:
    with SqlAuditLog(sqlite_url(data_dir), create=False) as log:
        return [(r.event, r.details) for r in log.records() if r.event in ("freeze", "unfreeze")]


def test_freeze_stops_the_agent_and_is_audited(data_dir: Path) -> None:
    code, output = cli(
        "freeze", "--agent", "bot-1", "--reason", "refund spree", "--as", "alice",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert code == 0, output
    assert "Frozen agent:bot-1: refund spree" in output
    store = SqlFreezeStore(sqlite_url(data_dir))
    assert CachedFreezes(store).matching(BOT) is not None
    store.close()
    [(event, details)] = audit_events(data_dir)
    assert (event, details["by"], details["target"]) == ("freeze", "alice", "agent:bot-1")


def test_unfreeze_lifts_it_and_is_audited(data_dir: Path) -> None:
    where = ("--data-dir", str(data_dir))
    cli("freeze", "--tenant", "acme", "--reason", "incident", "--as", "alice", *where)
    code, output = cli("unfreeze", "--tenant", "acme", "--as", "carol", *where)
    assert code == 0, output
    assert "Unfrozen tenant:acme" in output
    assert [event for event, _ in audit_events(data_dir)] == ["freeze", "unfreeze"]
    code, output = cli("unfreeze", "--tenant", "acme", "--as", "carol", *where)
    assert code == 1
    assert "tenant:acme was not frozen" in output


def test_frozen_lists_what_is_in_force(data_dir: Path) -> None:
    where = ("--data-dir", str(data_dir))
    cli("freeze", "--agent", "bot-9", "--reason", "test", "--as", "alice", *where)
    cli("unfreeze", "--agent", "bot-9", "--as", "carol", *where)
    assert cli("frozen", *where)[1].strip() == "Nothing is frozen."
    cli("freeze", "--all", "--reason", "breach", "--as", "alice", *where)
    code, output = cli("frozen", "--json", *where)
    assert code == 0
    [entry] = json.loads(output)
    assert (entry["target"], entry["reason"], entry["by"]) == ("all", "breach", "alice")


@pytest.mark.parametrize(
    "targets", [(), ("--agent", "a", "--tenant", "t"), ("--all", "--agent", "a")]
)
def test_exactly_one_target_is_required(data_dir: Path, targets: tuple[str, ...]) -> None:
    code, output = cli(
        "freeze", *targets, "--reason", "x", "--as", "alice", "--data-dir", str(data_dir)
    )
    assert code == 2
    assert "exactly one of --agent, --tenant or --all" in output


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"fwtest{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(redis_url, prefix)


def test_freeze_in_redis_reaches_firewalls_reading_redis(
    data_dir: Path, redis_url: str, redis_prefix: str
) -> None:
    code, output = cli(
        "freeze", "--agent", "bot-1", "--reason", "x", "--as", "alice",
        "--redis", redis_url, "--key-prefix", redis_prefix, "--data-dir", str(data_dir),
    )  # fmt: skip
    assert code == 0, output
    store = RedisFreezeStore(redis_url, LimitSettings(key_prefix=redis_prefix))
    assert CachedFreezes(store).matching(BOT) is not None
    store.close()
    assert [event for event, _ in audit_events(data_dir)] == ["freeze"]


def test_config_file_names_the_stores(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "firewall.toml"
    config.write_text(
        f'[storage]\nurl = "{sqlite_url(data_dir)}"\n\n'
        '[[tools]]\nname = "crm_lookup"\nscope = "crm:read"\n',
        encoding="utf-8",
    )
    code, output = cli(
        "freeze", "--agent", "bot-1", "--reason", "x", "--as", "a", "--config", str(config)
    )
    assert code == 0, output
    assert "agent:bot-1" in cli("frozen", "--config", str(config))[1]


def test_an_unreachable_freeze_list_exits_2_and_says_so(data_dir: Path) -> None:
    code, output = cli(
        "freeze", "--agent", "bot-1", "--reason", "x", "--as", "alice",
        "--redis", f"redis://127.0.0.1:{closed_port()}/0", "--data-dir", str(data_dir),
    )  # fmt: skip
    assert code == 2
    assert "freeze list unavailable (ConnectionError)" in output
