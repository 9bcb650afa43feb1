"""``firewall approvals``: list, show, approve and deny on a real SQLite store and audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firewall.approvals import ApprovalService, HoldRecord, HoldState, SqlApprovalStore
from firewall.approvals.journal import DecisionJournal, adopt_journal
from firewall.audit import SqlAuditLog
from firewall.cli.approvals import GROUPS_ENV, app
from firewall.cli.common import sqlite_url as data_dir_url
from tests.approvals.helpers import GROUPS, RecordingSink, open_hold

runner = CliRunner()
GROUPS_JSON = json.dumps({"supervisors": ["alice", "carol"]})


@pytest.fixture
def url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's database, with approver groups configured in the environment."""
    monkeypatch.setenv(GROUPS_ENV, GROUPS_JSON)
    return sqlite_url


@pytest.fixture
def holds(url: str) -> Iterator[ApprovalService]:
    """A service that opens holds in the CLI's database (in real time)."""
    with SqlApprovalStore(url) as store:
        yield ApprovalService(store, RecordingSink(), GROUPS)


@pytest.fixture
def no_groups_env(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No approver groups in the environment."""
    monkeypatch.delenv(GROUPS_ENV)


def _stored(url: str, hold_id: str) -> HoldRecord | None:
    with SqlApprovalStore(url) as store:
        return store.get(hold_id)


def _state(url: str, hold_id: str) -> HoldState | None:
    record = _stored(url, hold_id)
    return record.state if record else None


def test_list_shows_pending_holds_with_what_approvers_need(
    url: str, holds: ApprovalService
) -> None:
    _, record = open_hold(holds)
    _, decided = open_hold(holds)
    holds.deny(decided.hold_id, "carol", None)
    result = runner.invoke(app, ["list", "--db", url])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if record.hold_id in line)
    for cell in ("issue_refund", "support-bot", "acme", "250", "refunds over 100", "pending"):
        assert cell in row
    assert decided.hold_id not in result.stdout
    assert decided.hold_id in runner.invoke(app, ["list", "--all", "--db", url]).stdout


def test_list_json_lists_the_records(url: str, holds: ApprovalService) -> None:
    _, record = open_hold(holds)
    result = runner.invoke(app, ["list", "--json", "--db", url])
    assert result.exit_code == 0, result.output
    assert [HoldRecord.model_validate(item) for item in json.loads(result.stdout)] == [record]


def test_list_reads_the_store_in_the_data_dir(tmp_path: Path) -> None:
    with SqlApprovalStore(data_dir_url(tmp_path)) as store:
        _, record = open_hold(ApprovalService(store, RecordingSink(), GROUPS))
    result = runner.invoke(app, ["list", "--data-dir", str(tmp_path)])
    assert record.hold_id in result.stdout


def test_list_of_nothing_says_so(url: str) -> None:
    SqlApprovalStore(url).close()  # an existing, empty store
    result = runner.invoke(app, ["list", "--db", url])
    assert (result.exit_code, result.stdout.strip()) == (0, "No pending holds.")


def test_list_marks_overdue_pending_holds(url: str, holds: ApprovalService) -> None:
    open_hold(holds, now=datetime.now(UTC) - timedelta(hours=1))
    assert "(overdue)" in runner.invoke(app, ["list", "--db", url]).stdout


def test_show_prints_the_call_and_its_digest(url: str, holds: ApprovalService) -> None:
    _, record = open_hold(holds)
    result = runner.invoke(app, ["show", record.hold_id, "--db", url])
    assert result.exit_code == 0, result.output
    for text in (record.call_id, record.digest, '"amount": 250', "supervisors (quorum 1)"):
        assert text in result.stdout
    as_json = runner.invoke(app, ["show", record.hold_id, "--json", "--db", url]).stdout
    assert HoldRecord.model_validate_json(as_json) == record


def test_show_of_an_unknown_hold_exits_1(url: str, holds: ApprovalService) -> None:
    result = runner.invoke(app, ["show", "hold_nope", "--db", url])
    assert result.exit_code == 1
    assert "Refused (unknown_hold): there is no hold 'hold_nope'" in result.stderr


def test_approve_decides_the_hold_and_audits_it(url: str, holds: ApprovalService) -> None:
    """The decision is journaled by the approver, then adopted onto the chain by the writer."""
    _, record = open_hold(holds)
    result = runner.invoke(app, ["approve", record.hold_id, "--as", "alice", "--db", url])
    assert result.exit_code == 0, result.output
    assert f"Approved hold {record.hold_id} (alice)" in result.stdout
    assert _state(url, record.hold_id) is HoldState.APPROVED
    with SqlApprovalStore(url) as store, SqlAuditLog(url) as log:
        assert adopt_journal(DecisionJournal(store), log) == 1
        decided = [r for r in log.records() if r.event == "hold_decided"]
    assert [(r.outcome, r.details["approver"]) for r in decided] == [("approved", "alice")]


def test_approve_below_quorum_reports_the_count(url: str, holds: ApprovalService) -> None:
    _, record = open_hold(holds, quorum=2)
    result = runner.invoke(app, ["approve", record.hold_id, "--as", "carol", "--db", url])
    assert result.exit_code == 0, result.output
    assert "(1 of 2)" in result.stdout
    assert _state(url, record.hold_id) is HoldState.PENDING


def test_second_approve_is_refused_in_red_with_exit_1(url: str, holds: ApprovalService) -> None:
    _, record = open_hold(holds)
    args = ["approve", record.hold_id, "--as", "alice", "--db", url]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args, env={"FORCE_COLOR": "1"})
    assert again.exit_code == 1
    assert "\x1b[31mRefused (not_pending):" in again.stderr
    assert f"hold {record.hold_id} was already approved (decided by alice)" in again.stderr


def test_requester_cannot_approve_from_the_cli(url: str, holds: ApprovalService) -> None:
    _, record = open_hold(holds)
    result = runner.invoke(app, ["approve", record.hold_id, "--as", "bob", "--db", url])
    assert result.exit_code == 1
    assert "Refused (self_approval)" in result.stderr
    assert _stored(url, record.hold_id) == record


def test_deny_records_the_reason(url: str, holds: ApprovalService) -> None:
    _, record = open_hold(holds)
    args = ["deny", record.hold_id, "--as", "carol", "--reason", "duplicate refund", "--db", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"Denied hold {record.hold_id}: duplicate refund" in result.stdout
    stored = _stored(url, record.hold_id)
    assert stored is not None
    assert (stored.state, stored.decision_reason) == (HoldState.DENIED, "duplicate refund")


@pytest.mark.usefixtures("no_groups_env")
def test_without_groups_nobody_may_approve(url: str, holds: ApprovalService) -> None:
    _, record = open_hold(holds)
    result = runner.invoke(app, ["approve", record.hold_id, "--as", "alice", "--db", url])
    assert result.exit_code == 1
    assert "approver group 'supervisors' is not configured" in result.stderr


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("groups.json", GROUPS_JSON),
        ("groups.toml", 'supervisors = ["alice", "carol"]\n'),
    ],
)
@pytest.mark.usefixtures("no_groups_env")
def test_groups_file_names_the_approvers(
    url: str, holds: ApprovalService, tmp_path: Path, name: str, content: str
) -> None:
    groups_file = tmp_path / name
    groups_file.write_text(content, encoding="utf-8")
    _, record = open_hold(holds)
    args = ["approve", record.hold_id, "--as", "carol", "--groups-file", str(groups_file)]
    result = runner.invoke(app, [*args, "--db", url])
    assert result.exit_code == 0, result.output
    assert _state(url, record.hold_id) is HoldState.APPROVED


@pytest.mark.parametrize("value", ["not json", '{"supervisors": "alice"}'])
def test_malformed_groups_exit_2_naming_the_source(
    url: str, holds: ApprovalService, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(GROUPS_ENV, value)
    _, record = open_hold(holds)
    result = runner.invoke(app, ["approve", record.hold_id, "--as", "alice", "--db", url])
    assert result.exit_code == 2
    assert f"${GROUPS_ENV}" in result.stderr
    assert _stored(url, record.hold_id) == record


@pytest.mark.parametrize("command", [["list"], ["approve", "hold_x", "--as", "alice"]])
def test_unreachable_store_exits_2(command: list[str]) -> None:
    db = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    result = runner.invoke(app, [*command, "--db", db])
    assert result.exit_code == 2
    assert "cannot open the store" in result.stderr
