"""``firewall policy test``: one line per test, a summary, exit 0 / 1 / 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firewall.cli.policy import app, default_policy_dir
from firewall.testing.opa_server import OpaTestServer

POLICY = 'package firewall\n\nimport rego.v1\n\ndecision := {"outcome": "allow", "reasons": []}\n'
PASSING = (
    'package p_test\n\nimport rego.v1\n\ntest_allows if data.firewall.decision.outcome == "allow"\n'
)
FAILING = PASSING + '\ntest_denies if data.firewall.decision.outcome == "deny"\n'


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_all_passing_exits_0_with_one_line_per_test(
    runner: CliRunner, write_policy: Callable[..., Path]
) -> None:
    suite = write_policy(decision=POLICY, p_test=PASSING)
    result = runner.invoke(app, ["test", "--dir", str(suite)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["PASS data.p_test.test_allows", "1 passed, 0 failed"]


def test_a_failing_test_exits_1_and_says_why(
    runner: CliRunner, write_policy: Callable[..., Path]
) -> None:
    suite = write_policy(decision=POLICY, p_test=FAILING)
    result = runner.invoke(app, ["test", "--dir", str(suite)])
    assert result.exit_code == 1
    assert "FAIL data.p_test.test_denies  undefined: a condition" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 passed, 1 failed"


def test_policy_that_does_not_compile_exits_2(
    runner: CliRunner, write_policy: Callable[..., Path]
) -> None:
    suite = write_policy(decision="package firewall\n\nx := {\n", p_test=PASSING)
    result = runner.invoke(app, ["test", "--dir", str(suite)])
    assert result.exit_code == 2
    assert "error: policy does not compile: decision.rego:3:" in result.stderr


def test_no_tests_exits_2(runner: CliRunner, write_policy: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["test", "--dir", str(write_policy(decision=POLICY))])
    assert result.exit_code == 2
    assert "no Rego tests" in result.stderr


def test_missing_directory_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["test", "--dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "policy directory not found" in result.stderr


def test_json_report_lists_every_result(
    runner: CliRunner, write_policy: Callable[..., Path]
) -> None:
    suite = write_policy(decision=POLICY, p_test=FAILING)
    result = runner.invoke(app, ["test", "--dir", str(suite), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["engine"], report["passed"], report["failed"]) == ("embedded", 1, 1)
    assert [(r["name"], r["passed"]) for r in report["results"]] == [
        ("test_allows", True),
        ("test_denies", False),
    ]


def test_json_error_report_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["test", "--dir", str(tmp_path / "nope"), "--json"])
    assert result.exit_code == 2
    assert "policy directory not found" in json.loads(result.stdout)["error"]


def test_tests_run_on_an_opa_server(runner: CliRunner, write_policy: Callable[..., Path]) -> None:
    suite = write_policy(decision=POLICY, p_test=FAILING)
    with OpaTestServer() as opa:
        result = runner.invoke(
            app, ["test", "--dir", str(suite), "--opa", opa.url, "--upload-policies", "--json"]
        )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["engine"], report["passed"], report["failed"]) == (opa.url, 1, 1)


def test_unreachable_opa_exits_2(runner: CliRunner, write_policy: Callable[..., Path]) -> None:
    opa = OpaTestServer()
    opa.start()
    opa.stop()
    suite = write_policy(decision=POLICY, p_test=PASSING)
    result = runner.invoke(app, ["test", "--dir", str(suite), "--opa", opa.url])
    assert result.exit_code == 2
    assert "not reachable" in result.stderr


def test_command_is_mounted_on_the_firewall_app(
    runner: CliRunner, write_policy: Callable[..., Path]
) -> None:
    from firewall.cli import app as firewall_app  # imports every sub-command's module

    suite = write_policy(decision=POLICY, p_test=PASSING)
    result = runner.invoke(firewall_app, ["policy", "test", "--dir", str(suite)])
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed" in result.stdout


def test_default_dir_is_the_local_policies_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "policies" / "rego").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert default_policy_dir() == Path("policies/rego")


def test_default_dir_falls_back_to_the_shipped_policies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    directory = default_policy_dir()
    assert directory.name == "rego"
    assert (directory / "decision.rego").is_file()
