"""``firewall demo --approver rest``: the hold is approved by another process via REST."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from firewall.audit.keyfiles import ensure_dev_key
from firewall.cli.demo import demo
from tests.adapters.service.processes import REPO

pytestmark = pytest.mark.slow

DEMO_TIMEOUT_S = 180


def _run_demo(data_dir: Path) -> tuple[int, str]:
    """``firewall demo --approver rest`` as a process group, killed whole if it hangs."""
    command = [sys.executable, "-m", "firewall.cli", "demo", "--data-dir", str(data_dir),
               "--approver", "rest"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    with subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            output, _ = process.communicate(timeout=DEMO_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the demo, its service and its approver
            output, _ = process.communicate()
            pytest.fail(f"the demo hung:\n{output}")
    return process.returncode, output


def test_demo_in_rest_mode_is_approved_through_the_service(tmp_path: Path) -> None:
    ensure_dev_key(tmp_path)  # the audit signing key the demo's processes share
    code, output = _run_demo(tmp_path)
    assert code == 0, output
    assert "SERVICE  firewall serve at http://127.0.0.1:" in output
    assert "HOLD     issue_refund(order_id='o-2'" in output
    assert "APPROVED by alice via the REST API (hold approved)" in output
    assert "refunded 450.00 on order o-2" in output
    assert "audit chain intact" in output


def test_demo_refuses_an_unknown_approver_mode() -> None:
    app = typer.Typer()
    app.command()(demo)
    result = CliRunner().invoke(app, ["--approver", "robot"])
    assert result.exit_code == 2
    assert "must be one of: scripted, manual, rest" in result.output
