"""The Rego unit tests: discovered, run on both engines, failures and crashes reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from firewall.errors import PolicyError
from firewall.policy.rego_tests import (
    RegoTest,
    RegoTestResult,
    discover_rego_tests,
    run_embedded,
    run_rego_tests,
)
from firewall.testing.opa_server import OpaTestServer

SHIPPED = Path(__file__).resolve().parents[2] / "policies" / "rego"
SHIPPED_TESTS = discover_rego_tests(SHIPPED)

POLICY = 'package firewall\n\nimport rego.v1\n\ndecision := {"outcome": "allow", "reasons": []}\n'
MIXED_TESTS = """package p_test

import rego.v1

import data.firewall

test_passes if firewall.decision.outcome == "allow"

test_fails if firewall.decision.outcome == "deny"

test_not_true := 5
"""


def by_query(results: list[RegoTestResult]) -> dict[str, RegoTestResult]:
    return {result.query: result for result in results}


@pytest.fixture(scope="module")
def embedded_results() -> dict[str, RegoTestResult]:
    return by_query(run_rego_tests(SHIPPED))


@pytest.fixture(scope="module")
def opa_results() -> dict[str, RegoTestResult]:
    with OpaTestServer() as opa:
        opa.load_policies(SHIPPED)
        return by_query(run_rego_tests(SHIPPED, opa_url=opa.url))


@pytest.fixture
def mixed_suite(write_policy: Callable[..., Path]) -> Path:
    return write_policy(decision=POLICY, p_test=MIXED_TESTS)


def test_every_shipped_policy_file_has_tests() -> None:
    tested = {test.file.removesuffix("_test.rego") for test in SHIPPED_TESTS}
    policies = {p.stem for p in SHIPPED.glob("*.rego") if not p.name.endswith("_test.rego")}
    assert policies - {"settings"} <= tested


@pytest.mark.parametrize("test", SHIPPED_TESTS, ids=lambda test: f"{test.package}.{test.name}")
def test_shipped_rego_test_passes_on_embedded_engine(
    test: RegoTest, embedded_results: dict[str, RegoTestResult]
) -> None:
    result = embedded_results[f"data.{test.package}.{test.name}"]
    assert result.passed, result.error


@pytest.mark.parametrize("test", SHIPPED_TESTS, ids=lambda test: f"{test.package}.{test.name}")
def test_shipped_rego_test_passes_on_opa(
    test: RegoTest, opa_results: dict[str, RegoTestResult]
) -> None:
    result = opa_results[f"data.{test.package}.{test.name}"]
    assert result.passed, result.error


def test_discovery_reads_package_and_test_rules(mixed_suite: Path) -> None:
    tests = discover_rego_tests(mixed_suite)
    assert [(t.package, t.name, t.file) for t in tests] == [
        ("p_test", "test_passes", "p_test.rego"),
        ("p_test", "test_fails", "p_test.rego"),
        ("p_test", "test_not_true", "p_test.rego"),
    ]
    assert tests[0].entrypoint == "p_test/test_passes"


def test_test_file_without_package_is_an_error(write_policy: Callable[..., Path]) -> None:
    with pytest.raises(PolicyError, match="has no package line"):
        discover_rego_tests(write_policy(decision=POLICY, x_test="test_a if true\n"))


def expected_mixed(results: list[RegoTestResult]) -> None:
    outcome = {result.name: (result.passed, result.error) for result in results}
    assert outcome == {
        "test_passes": (True, None),
        "test_fails": (False, "undefined: a condition of the test did not hold"),
        "test_not_true": (False, "returned 5, not true"),
    }


def test_failing_tests_are_reported_in_process(mixed_suite: Path) -> None:
    expected_mixed(run_embedded(mixed_suite, discover_rego_tests(mixed_suite)))


def test_failing_tests_are_reported_from_a_child_process(mixed_suite: Path) -> None:
    expected_mixed(run_rego_tests(mixed_suite, isolate=True))


def test_failing_tests_are_reported_on_opa(mixed_suite: Path) -> None:
    with OpaTestServer() as opa:
        results = run_rego_tests(mixed_suite, opa_url=opa.engine_url, upload_policies=True)
        left_behind = [policy_id for policy_id in opa.data.modules() if "_test" in policy_id]
    expected_mixed(results)
    assert left_behind == []


def test_test_file_that_does_not_compile_is_an_error(write_policy: Callable[..., Path]) -> None:
    suite = write_policy(decision=POLICY, bad_test="package bad_test\n\ntest_x if {\n")
    with pytest.raises(PolicyError, match=r"bad_test\.rego:\d+:\d+"):
        run_rego_tests(suite)


def test_policy_that_does_not_compile_is_an_error_on_opa(write_policy: Callable[..., Path]) -> None:
    suite = write_policy(decision="package firewall\n\nx := {\n", p_test=MIXED_TESTS)
    with OpaTestServer() as opa, pytest.raises(PolicyError, match=r"rejected decision\.rego"):
        run_rego_tests(suite, opa_url=opa.url, upload_policies=True)


def test_engine_crash_is_reported_with_a_hint(write_policy: Callable[..., Path]) -> None:
    """regopy 1.5.2 aborts on this test; the child process dies, not the runner."""
    suite = write_policy(
        decision=POLICY + "\nbig if input.a > 1\n",
        crash_test="package crash_test\n\nimport rego.v1\n\n"
        'test_big if data.firewall.big with input as {"a": 2}\n',
    )
    with pytest.raises(
        PolicyError, match=r"crashed \(SIG\w+\) running crash_test\.rego.*with input\.args"
    ):
        run_rego_tests(suite, isolate=True)


def test_unreachable_opa_is_an_error(mixed_suite: Path) -> None:
    opa = OpaTestServer()
    opa.start()
    opa.stop()
    with pytest.raises(PolicyError, match="not reachable"):
        run_rego_tests(mixed_suite, opa_url=opa.url)
