"""``firewall audit verify`` and ``firewall audit show``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from firewall.audit.events import AuditEvent
from firewall.audit.store import SqlAuditLog
from firewall.cli.audit import app
from tests.audit.tampering import LAST, MIDDLE, build_log, update_row

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


def test_verify_prints_ok_and_exits_0_for_an_untouched_log(sqlite_url: str) -> None:
    records = build_log(sqlite_url)
    result = runner.invoke(app, ["verify", "--db", sqlite_url])
    assert result.exit_code == 0
    expected = f"OK: {LAST} records (seq 1..{LAST}) verified, head {records[-1].hash}"
    assert result.stdout.splitlines()[0] == expected


def test_verify_reads_the_database_in_the_data_dir(tmp_path: Path) -> None:
    build_log(f"sqlite:///{tmp_path / 'firewall.db'}")
    result = runner.invoke(app, ["verify", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"OK: {LAST} records")


def test_verify_of_an_empty_log_is_ok(sqlite_url: str) -> None:
    SqlAuditLog(sqlite_url).close()
    result = runner.invoke(app, ["verify", "--db", sqlite_url])
    assert (result.exit_code, result.stdout.strip()) == (0, "OK: 0 records verified (empty log)")


def test_verify_prints_the_first_bad_record_and_all_findings_and_exits_1(sqlite_url: str) -> None:
    build_log(sqlite_url)
    update_row(sqlite_url, MIDDLE, {"hash": "sha256:" + "1" * 64})
    result = runner.invoke(app, ["verify", "--db", sqlite_url])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"TAMPERED: first bad record seq {MIDDLE}: hash_mismatch: expected ")
    assert lines[0].endswith(f"found sha256:{'1' * 64}")
    assert lines[1].startswith(f"  seq {MIDDLE}: hash_mismatch: ")
    assert lines[2].startswith(f"  seq {MIDDLE + 1}: broken_link: ")


def test_verify_exits_2_when_the_log_cannot_be_read(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", "--db", f"sqlite:///{tmp_path / 'missing.db'}"])
    assert result.exit_code == 2
    assert result.stdout.startswith("INCONCLUSIVE: audit database file ")


def test_verify_json_prints_the_report(sqlite_url: str) -> None:
    build_log(sqlite_url)
    update_row(sqlite_url, MIDDLE, {"tool": "wire_money"})
    result = runner.invoke(app, ["verify", "--db", sqlite_url, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["valid"], report["status"], report["first_bad_seq"]) == (False, "tampered", 5)
    assert [finding["kind"] for finding in report["findings"]] == ["hash_mismatch"]
    assert report["records_checked"] == LAST


def test_verify_json_of_a_valid_log_exits_0(sqlite_url: str) -> None:
    build_log(sqlite_url)
    result = runner.invoke(app, ["verify", "--db", sqlite_url, "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["valid"] is True


def test_verify_lists_calls_in_doubt(sqlite_url: str) -> None:
    with SqlAuditLog(sqlite_url) as log:
        log.append(AuditEvent(event="decision", call_id="call_x", tool="refund", outcome="allow"))
    result = runner.invoke(app, ["verify", "--db", sqlite_url])
    assert result.exit_code == 0
    assert "In doubt (allowed, no outcome recorded):" in result.stdout
    assert "  call_x (tool refund, decision at seq 1)" in result.stdout


def test_show_prints_the_records_as_a_table(sqlite_url: str) -> None:
    build_log(sqlite_url)
    result = runner.invoke(app, ["show", "--db", sqlite_url], env=WIDE)
    assert result.exit_code == 0
    assert "call_1" in result.stdout
    assert "approved by alice; under limit" in result.stdout


def test_show_limits_to_the_last_records(sqlite_url: str) -> None:
    build_log(sqlite_url)
    result = runner.invoke(app, ["show", "--db", sqlite_url, "--limit", "2", "--json"])
    assert result.exit_code == 0
    assert [record["seq"] for record in json.loads(result.stdout)] == [LAST - 1, LAST]


def test_show_filters_by_call_id(sqlite_url: str) -> None:
    build_log(sqlite_url)
    result = runner.invoke(app, ["show", "--db", sqlite_url, "--call-id", "call_4", "--json"])
    assert result.exit_code == 0
    records = json.loads(result.stdout)
    assert [(r["seq"], r["event"]) for r in records] == [(5, "decision"), (7, "outcome")]


def test_show_exits_2_with_an_error_when_the_log_cannot_be_read(tmp_path: Path) -> None:
    result = runner.invoke(app, ["show", "--db", f"sqlite:///{tmp_path / 'missing.db'}"])
    assert result.exit_code == 2
    assert "error: audit database file" in result.stderr
