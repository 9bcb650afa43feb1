"""The demo end to end: every scene happens, and the audit chain it leaves verifies."""

from __future__ import annotations

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
    assert "Summary:" in output
    assert "audit chain intact" in output


def _verify(data_dir: Path) -> int:
    return CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(data_dir)]).exit_code


def _tamper(data_dir: Path, tmp_path: Path, sql: str) -> Path:
    copy = tmp_path / "tampered"
    copy.mkdir()
    source = sqlite3.connect(data_dir / "firewall.db")
    target = sqlite3.connect(copy / "firewall.db")
    source.backup(target)
    source.close()
    target.execute(sql)
    target.commit()
    target.close()
    return copy


def test_untouched_demo_audit_verifies(demo_run: tuple[Path, str, int]) -> None:
    assert _verify(demo_run[0]) == 0


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_records SET outcome = 'allow' WHERE seq = 5",
        "UPDATE audit_records SET reasons = '[]' WHERE seq = 3",
        "DELETE FROM audit_records WHERE seq = 4",
        "DELETE FROM audit_records WHERE seq = (SELECT max(seq) FROM audit_records)",
        "UPDATE audit_records SET seq = CASE seq WHEN 2 THEN 3 WHEN 3 THEN 2 END"
        " WHERE seq IN (2, 3)",
    ],
    ids=["edit-outcome", "edit-reasons", "delete-middle", "delete-last", "swap"],
)
def test_any_single_tamper_of_the_demo_audit_is_detected(
    demo_run: tuple[Path, str, int], tmp_path: Path, sql: str
) -> None:
    assert _verify(_tamper(demo_run[0], tmp_path, sql)) == 1
