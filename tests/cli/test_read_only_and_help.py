"""Read-only commands never create a store; help shows table names and plain flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firewall.cli import app

runner = CliRunner()
POLICIES = str(Path(__file__).parents[2] / "policies" / "rego")
READ_ONLY = [
    ["approvals", "list"],
    ["approvals", "list", "--all", "--json"],
    ["approvals", "show", "hold_x"],
    ["approvals", "approve", "hold_x", "--as", "alice"],
    ["approvals", "deny", "hold_x", "--as", "alice"],
    ["audit", "verify"],
    ["audit", "show"],
    ["frozen"],
    ["policy", "replay", "--policy", POLICIES],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_mistyped_data_dir_is_an_error_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    mistyped = tmp_path / "firewal"
    result = runner.invoke(app, [*command, "--data-dir", str(mistyped)])
    assert result.exit_code == 2, result.output
    assert "No pending holds" not in result.output
    assert str(mistyped) in result.output
    assert not mistyped.exists()


@pytest.mark.parametrize("command", READ_ONLY[:5], ids=" ".join)
def test_a_mistyped_db_is_an_error_and_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    mistyped = tmp_path / "firewal.db"
    result = runner.invoke(app, [*command, "--db", f"sqlite:///{mistyped}"])
    assert result.exit_code == 2, result.output
    assert "no such file" in result.output
    assert not mistyped.exists()


def test_a_database_without_the_store_is_not_taken_for_an_empty_store(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_bytes(b"")  # an existing file, but no firewall tables in it
    result = runner.invoke(app, ["approvals", "list", "--db", f"sqlite:///{other}"])
    assert result.exit_code == 2, result.output
    assert "has no 'approval_holds' table" in result.output


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["serve", "--help"], "[service] and [slack]"),
        (["serve", "--help"], "[storage] url"),
        (["approvals", "list", "--help"], "[storage] and [approvers]"),
    ],
)
def test_help_shows_table_names(command: list[str], shown: str) -> None:
    result = runner.invoke(app, command, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert shown in " ".join(result.output.split())


@pytest.mark.parametrize(
    "command", [["serve", "--help"], ["approvals", "list", "--help"], ["audit", "verify", "--help"]]
)
def test_boolean_flags_show_no_value(command: list[str]) -> None:
    result = runner.invoke(app, command, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    assert re.search(r"--(socket-mode|all|json)\s{2,}\S", result.output)
