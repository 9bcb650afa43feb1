"""Attacks on the stores the gate relies on: files deleted, moved, replaced, truncated; tables
dropped or rolled back under a running firewall.

An outsider with access to the data directory (or to the database) makes a store vanish
while an agent runs. Whatever they do, a refund after that moment does not run unless its
decision record is durable in the log an auditor reads at the configured place: the tool
function is never called, the agent is told why (naming the file), and nothing, no
``Executed`` result and no ``allow`` or ``ok`` record at the configured path, claims it ran.
The firewall is built the way users build it: ``build_firewall(load_config(toml))``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from adapters.slack.card_store import SqlCardStore
from firewall.audit.keyfiles import generate_key_pair
from firewall.cli import app
from firewall.config import load_config
from firewall.errors import StoreError
from firewall.factory import build_firewall
from firewall.gate import Executed
from firewall.types import Deny, Hold
from tests.adversarial.vanishing import (
    AGENT,
    SIDE_FILES,
    Agent,
    assert_no_refused_call_claimed_to_run,
    assert_refused,
    attack_sql,
    checkpoint_into_main_file,
    claims_at,
    write_config,
)
from tests.services import fresh_schema


@pytest.fixture
def sqlite_agent(tmp_path: Path) -> Iterator[tuple[Agent, Path]]:
    """An agent on the default layout: one SQLite file for audit, holds and freezes."""
    config = write_config(tmp_path, {"url": "sqlite:///data/firewall.db"}, {"dev_key": True})
    (tmp_path / "data").mkdir()
    agent = Agent(build_firewall(load_config(config)))
    yield agent, tmp_path / "data" / "firewall.db"
    agent.close()


# -- the audit log on SQLite --------------------------------------------------------------


def test_refund_after_the_audit_files_are_deleted_does_not_run(
    sqlite_agent: tuple[Agent, Path],
) -> None:
    """Unlinking firewall.db and its -wal/-shm: the next refund is refused, naming the file."""
    agent, db = sqlite_agent
    assert isinstance(agent.refund(10), Executed)
    for suffix in ("", *SIDE_FILES):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert_refused(agent.refund(20), agent, [10], str(db))
    assert_refused(agent.refund(30), agent, [10], str(db))
    assert not db.exists(), "the firewall created a fresh, empty log in place of the deleted one"


def test_refund_after_the_audit_file_is_renamed_away_does_not_run(
    sqlite_agent: tuple[Agent, Path],
) -> None:
    """``os.rename`` of the database elsewhere (its WAL left behind): the refund is refused."""
    agent, db = sqlite_agent
    assert isinstance(agent.refund(10), Executed)
    os.rename(db, db.with_name("elsewhere.db"))
    assert_refused(agent.refund(20), agent, [10], str(db))
    assert_no_refused_call_claimed_to_run(agent, db.with_name("elsewhere.db"))


def test_refund_after_the_data_directory_is_moved_does_not_run(
    sqlite_agent: tuple[Agent, Path],
) -> None:
    """``shutil.move`` of the whole data directory (database and key): the refund is
    refused, naming the file it misses there."""
    agent, db = sqlite_agent
    assert isinstance(agent.refund(10), Executed)
    shutil.move(db.parent, db.parent.with_name("moved-data"))
    assert_refused(agent.refund(20), agent, [10], str(db.parent))
    assert_refused(agent.refund(30), agent, [10], str(db.parent))


def test_refund_after_only_the_wal_is_deleted_does_not_run(
    sqlite_agent: tuple[Agent, Path],
) -> None:
    """The newest records live in the -wal file: deleting it alone loses them; refuse."""
    agent, db = sqlite_agent
    assert isinstance(agent.refund(10), Executed)
    Path(f"{db}-wal").unlink()
    assert_refused(agent.refund(20), agent, [10], str(db))
    assert_refused(agent.refund(30), agent, [10])
    assert_no_refused_call_claimed_to_run(agent, db)


def test_refund_after_the_audit_file_is_truncated_does_not_run(
    sqlite_agent: tuple[Agent, Path],
) -> None:
    """The database checkpointed and truncated to zero bytes in place (same inode): refuse."""
    agent, db = sqlite_agent
    assert isinstance(agent.refund(10), Executed)
    checkpoint_into_main_file(db)
    os.truncate(db, 0)
    assert_refused(agent.refund(20), agent, [10], str(db))
    assert_refused(agent.refund(30), agent, [10])
    assert_no_refused_call_claimed_to_run(agent, db)


def test_refund_after_an_old_backup_is_renamed_over_the_log_does_not_run(
    sqlite_agent: tuple[Agent, Path],
) -> None:
    """A copy taken earlier, renamed over the log (records since then gone): refuse, and
    keep refusing on a fresh connection, since its signed head is behind the last one written."""
    agent, db = sqlite_agent
    assert isinstance(agent.refund(10), Executed)
    checkpoint_into_main_file(db)
    backup = db.with_name("backup.db")
    shutil.copyfile(db, backup)
    assert isinstance(agent.refund(11), Executed)
    assert isinstance(agent.refund(12), Executed)
    os.replace(backup, db)
    for suffix in SIDE_FILES:
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert_refused(agent.refund(20), agent, [10, 11, 12], str(db))
    refusal = assert_refused(agent.refund(30), agent, [10, 11, 12])
    assert "went back from seq" in refusal.message()
    assert_no_refused_call_claimed_to_run(agent, db)


def test_refund_after_another_firewalls_log_is_swapped_in_does_not_run(
    sqlite_agent: tuple[Agent, Path], tmp_path: Path
) -> None:
    """The file replaced by another firewall's (valid, signed) database: refuse every refund."""
    agent, db = sqlite_agent
    other_root = tmp_path / "other"
    other_config = write_config(
        other_root, {"url": "sqlite:///data/firewall.db"}, {"dev_key": True}
    )
    (other_root / "data").mkdir()
    other = Agent(build_firewall(load_config(other_config)))
    assert isinstance(other.refund(1), Executed)
    other.close()
    assert isinstance(agent.refund(10), Executed)
    for suffix in SIDE_FILES:
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.replace(other_root / "data" / "firewall.db", db)
    assert_refused(agent.refund(20), agent, [10], str(db))
    assert_refused(agent.refund(30), agent, [10])
    assert_no_refused_call_claimed_to_run(agent, db)


def test_the_very_same_file_put_back_is_used_again(sqlite_agent: tuple[Agent, Path]) -> None:
    """Renamed away (refused meanwhile) and renamed back unchanged: refunds run again,
    and the log at the path holds every refund that ran."""
    agent, db = sqlite_agent
    assert isinstance(agent.refund(10), Executed)
    aside = db.with_name("aside.db")
    os.rename(db, aside)
    assert_refused(agent.refund(20), agent, [10], str(db))
    os.rename(aside, db)
    assert isinstance(agent.refund(30), Executed)
    assert_no_refused_call_claimed_to_run(agent, db)
    ran = agent.executed_calls
    assert len(claims_at(db, ran)) == 2 * len(ran)  # an allow decision and an ok outcome each


# -- the approval store, the freeze list and the Slack cards on SQLite ---------------------


def test_held_refund_after_the_approval_store_is_deleted_is_refused(tmp_path: Path) -> None:
    """Holds in their own file, deleted: no 'pending approval' no approver could ever see."""
    config = write_config(
        tmp_path,
        {"url": "sqlite:///data/firewall.db", "approvals_url": "sqlite:///data/holds.db"},
        {"dev_key": True},
    )
    (tmp_path / "data").mkdir()
    agent = Agent(build_firewall(load_config(config)))
    holds = tmp_path / "data" / "holds.db"
    try:
        assert isinstance(agent.refund(500), Hold)
        for suffix in ("", *SIDE_FILES):
            Path(f"{holds}{suffix}").unlink(missing_ok=True)
        refusal = assert_refused(agent.refund(600), agent, [], str(holds))
        assert "approval store" in refusal.message()
    finally:
        agent.close()


def test_approval_store_swapped_for_a_copy_with_the_hold_approved_is_refused(
    tmp_path: Path,
) -> None:
    """A copy of the holds file in which the attacker marked the hold approved, renamed over
    it: the resumed call is refused (store error), not run on the forged approval."""
    config = write_config(
        tmp_path,
        {"url": "sqlite:///data/firewall.db", "approvals_url": "sqlite:///data/holds.db"},
        {"dev_key": True},
    )
    (tmp_path / "data").mkdir()
    agent = Agent(build_firewall(load_config(config)))
    holds = tmp_path / "data" / "holds.db"
    try:
        held = agent.refund(500)
        assert isinstance(held, Hold)
        checkpoint_into_main_file(holds)
        forged = holds.with_name("forged.db")
        shutil.copyfile(holds, forged)
        conn = sqlite3.connect(forged)
        conn.execute(
            "UPDATE approval_holds SET state = 'approved', approvals = '[\"alice\"]', "
            "decided_by = '[\"alice\"]', decided_at = created_at, version = version + 1"
        )
        conn.commit()
        conn.close()
        os.replace(forged, holds)
        with pytest.raises(StoreError, match=str(holds)):
            agent.firewall.approvals.get(held.hold_id)
    finally:
        agent.close()
    assert agent.refunded == []


def test_freeze_written_after_the_freeze_file_was_replaced_still_stops_the_agent(
    tmp_path: Path,
) -> None:
    """The freeze list's file deleted, then an operator freezes the agent (a new file at the
    path): the running firewall must not go on reading its ghost copy and run refunds."""
    config = write_config(
        tmp_path,
        {"url": "sqlite:///data/firewall.db", "freeze_url": "sqlite:///data/freezes.db"},
        {"dev_key": True},
    )
    (tmp_path / "data").mkdir()
    agent = Agent(build_firewall(load_config(config)))
    freezes = tmp_path / "data" / "freezes.db"
    try:
        assert isinstance(agent.refund(10), Executed)
        for suffix in ("", *SIDE_FILES):
            Path(f"{freezes}{suffix}").unlink(missing_ok=True)
        frozen = CliRunner().invoke(
            app,
            [
                "freeze",
                "--config",
                str(config),
                "--agent",
                AGENT.agent_id,
                "--as",
                "ops",
                "--reason",
                "suspected injection",
            ],
        )
        assert frozen.exit_code == 0, frozen.output
        result = agent.refund(20)
    finally:
        agent.close()
    assert isinstance(result, Deny), f"the frozen agent's refund was not refused: {result!r}"
    assert agent.refunded == [10]


def test_slack_card_store_whose_file_vanished_answers_with_an_error(tmp_path: Path) -> None:
    """Claims of Slack cards written to a deleted file would post every card twice: refuse."""
    path = tmp_path / "cards.db"
    store = SqlCardStore(f"sqlite:///{path}")
    try:
        now = datetime.now(UTC)
        assert store.claim("hold_1", "C1", now)
        for suffix in ("", *SIDE_FILES):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with pytest.raises(StoreError, match=str(path)):
            store.claim("hold_2", "C1", now)
    finally:
        store.close()


# -- the audit log on PostgreSQL -----------------------------------------------------------


@pytest.fixture
def pg_agent(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Agent, str]]:
    """An agent whose audit log, holds and freezes live in a fresh PostgreSQL schema."""
    private_key, _, _ = generate_key_pair(tmp_path / "keys", "vanish-writer")
    with fresh_schema(postgres_url, "vanish") as url:
        config = write_config(tmp_path, {"url": url}, {"key_file": str(private_key)})
        agent = Agent(build_firewall(load_config(config)))
        try:
            yield agent, url
        finally:
            agent.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "attack",
    [
        "DROP TABLE audit_records CASCADE",
        "TRUNCATE audit_records",
        "DELETE FROM audit_records",
        "TRUNCATE audit_head",
        "TRUNCATE audit_records, audit_head, audit_checkpoints, audit_meta",
        "DROP TABLE audit_pending",
    ],
)
def test_refund_after_audit_tables_are_dropped_or_emptied_does_not_run(
    pg_agent: tuple[Agent, str], attack: str
) -> None:
    """Plain SQL empties or drops the audit tables mid-run: the refund is refused, quickly."""
    agent, url = pg_agent
    assert isinstance(agent.refund(10), Executed)
    attack_sql(url, attack)
    started = time.monotonic()
    assert_refused(agent.refund(20), agent, [10], "audit")
    assert time.monotonic() - started < 10, "the refusal took the lock-wait limit"
    assert_refused(agent.refund(30), agent, [10])


@pytest.mark.postgres
def test_refund_after_the_schema_is_dropped_does_not_run(pg_agent: tuple[Agent, str]) -> None:
    """``DROP SCHEMA ... CASCADE`` under the writer: refused."""
    agent, url = pg_agent
    assert isinstance(agent.refund(10), Executed)
    schema = make_url(url).query["options"].removeprefix("-csearch_path=")
    attack_sql(url, f'DROP SCHEMA "{schema}" CASCADE')
    assert_refused(agent.refund(20), agent, [10], "audit")


@pytest.mark.postgres
def test_refund_after_the_audit_tables_are_restored_from_a_backup_does_not_run(
    pg_agent: tuple[Agent, str],
) -> None:
    """The audit tables put back as an earlier backup had them (validly signed, but behind
    the head this writer committed): the refund is refused, the lost records are not
    silently built upon."""
    agent, url = pg_agent
    assert isinstance(agent.refund(10), Executed)
    agent.flush()
    attack_sql(
        url,
        "CREATE TABLE backup_records AS SELECT * FROM audit_records",
        "CREATE TABLE backup_head AS SELECT * FROM audit_head",
        "CREATE TABLE backup_checkpoints AS SELECT * FROM audit_checkpoints",
    )
    assert isinstance(agent.refund(11), Executed)
    assert isinstance(agent.refund(12), Executed)
    agent.flush()
    attack_sql(
        url,
        "DELETE FROM audit_records",
        "DELETE FROM audit_head",
        "DELETE FROM audit_checkpoints",
        "INSERT INTO audit_records SELECT * FROM backup_records",
        "INSERT INTO audit_head SELECT * FROM backup_head",
        "INSERT INTO audit_checkpoints SELECT * FROM backup_checkpoints",
    )
    refusal = assert_refused(agent.refund(20), agent, [10, 11, 12], "audit")
    assert "seq" in refusal.message()
