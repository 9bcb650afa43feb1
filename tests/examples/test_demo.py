"""The demo end to end: every scene happens, and the audit chain it leaves verifies."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firewall.cli import app


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    data_dir = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data_dir)])
    return data_dir, result.output, result.exit_code


def test_demo_shows_every_scene_and_exits_zero(demo_run: tuple[Path, str, int]) -> None:
    _, output, code = demo_run
    assert code == 0, output
    assert "ALLOW    crm_lookup(customer_id='c-100')" in output
    assert "belongs to another tenant" in output
    assert "ALLOW    issue_refund(order_id='o-1'" in output
    assert "HOLD     issue_refund(order_id='o-2'" in output
    assert "APPROVED by alice" in output
    assert "refunded 450.00 on order o-2" in output
    assert "payments:write" in output
    assert "rate limit exceeded" in output
    assert "HOLD     issue_refund(order_id='o-1', amount=20.0" in output
    assert "untrusted content entered this session (from read_ticket)" in output
    assert "denied by alice: looks like a prompt injection" in output
    assert '"email": "<EMAIL_' in output  # the model sees the CRM record tokenized
    assert "ada@example.com" not in output.split("OUTBOX")[0]
    assert "ALLOW    send_email(to='<EMAIL_" in output
    assert "not to an address the agent typed" in output
    outbox = output.split("OUTBOX")[1:]
    assert [line.split("\n")[0] for line in outbox] == [
        "   the email tool received to='ada@example.com'"
    ]
    assert "Summary:" in output
    assert "audit chain intact" in output


def test_the_injected_ticket_cannot_mail_the_customer_to_its_address(
    demo_run: tuple[Path, str, int],
) -> None:
    """The ticket names exfil@attacker.example; mailing it the customer's address is refused."""
    _, output, _ = demo_run
    [attempt] = [
        scene
        for scene in output.split("\n")
        if scene.startswith("DENY     send_email(to='<EMAIL_") and "body='Ada, <EMAIL_" in scene
    ]
    refusal = output.split(attempt)[1].split("\n")[1]
    assert (
        "Tool call denied (policy): send_email would send personal data from crm_lookup" in refusal
    )
    assert "which came from untrusted content (read_ticket)" in refusal
    assert "exfil@attacker.example" not in output


def _verify(data_dir: Path) -> int:
    return CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(data_dir)]).exit_code


def _tamper(data_dir: Path, tmp_path: Path, sql: str) -> Path:
    """A copy of the demo's data dir (database and audit keys) with ``sql`` applied."""
    copy = tmp_path / "tampered"
    shutil.copytree(data_dir, copy)
    with sqlite3.connect(copy / "firewall.db") as db:
        changed = db.execute(sql).rowcount
    assert changed > 0, "the tamper statement changed nothing"
    return copy


def test_untouched_demo_audit_verifies(demo_run: tuple[Path, str, int]) -> None:
    assert _verify(demo_run[0]) == 0


SWAP_3_AND_4 = (
    "UPDATE audit_records SET"
    " hash = (SELECT hash FROM audit_records o WHERE o.seq = 7 - audit_records.seq),"
    " body = (SELECT body FROM audit_records o WHERE o.seq = 7 - audit_records.seq),"
    " event = (SELECT event FROM audit_records o WHERE o.seq = 7 - audit_records.seq),"
    " call_id = (SELECT call_id FROM audit_records o WHERE o.seq = 7 - audit_records.seq)"
    " WHERE seq IN (3, 4)"
)


@pytest.mark.parametrize(
    "sql",
    [
        'UPDATE audit_records SET body = replace(body, \'"outcome":"deny"\','
        ' \'"outcome":"allow"\') WHERE seq = 3',
        "UPDATE audit_records SET body = replace(body, '\"amount\":25',"
        " '\"amount\":2500') WHERE seq = 4",
        "DELETE FROM audit_records WHERE seq = 4",
        "DELETE FROM audit_records WHERE seq = (SELECT max(seq) FROM audit_records)",
        SWAP_3_AND_4,
    ],
    ids=["edit-outcome", "edit-amount", "delete-middle", "delete-last", "swap"],
)
def test_any_single_tamper_of_the_demo_audit_is_detected(
    demo_run: tuple[Path, str, int], tmp_path: Path, sql: str
) -> None:
    assert _verify(_tamper(demo_run[0], tmp_path, sql)) == 1


def test_the_demo_prints_the_gates_spans_with_otel_console(tmp_path: Path) -> None:
    """One line per span (call, decision, stages, audit appends); never a personal value."""
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(tmp_path), "--otel-console"])
    assert result.exit_code == 0, result.output
    spans = [line.split()[1] for line in result.output.splitlines() if line.startswith("  span ")]
    assert {"firewall.call", "firewall.decide", "firewall.stage", "firewall.audit.append"} <= set(
        spans
    )
    assert "firewall.approval.wait" in spans
    lines = [line for line in result.output.splitlines() if line.startswith("  span ")]
    assert any("outcome=deny" in line and "code=policy" in line for line in lines)
    assert not [line for line in lines if "ada@example.com" in line or "c-100" in line]
