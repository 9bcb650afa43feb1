"""Run the Rego unit tests (``test_*`` rules in ``*_test.rego``) on either engine.

A test passes iff ``data.<package>.<rule>`` is exactly ``true``. Tests are found by
reading the files (package line, rule heads starting with ``test_`` at column 0).
Embedded runs compile the policy with one test file at a time: rego-cpp copies the
rules a ``with`` statement touches, so compiling every test at once costs gigabytes.
Policies that do not compile, a crashed engine or an unreachable server raise
:class:`PolicyError`; a failing test is a result, not an exception.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any, Final

from firewall.errors import PolicyError
from firewall.policy.document import UNDEFINED
from firewall.policy.files import read_module, read_policy, rego_test_paths, require_dir
from firewall.policy.rego_runtime import compile_bundle, new_interpreter, query
from firewall.types import Frozen

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)
CRASH_HINT: Final = (
    "regopy 1.5.2 crashes on `with input as <object>` when a rule applies a built-in to"
    " input; override single fields instead, e.g. `with input.args as {...}`"
)


class RegoTest(Frozen):
    """One ``test_*`` rule."""

    package: str
    name: str
    file: str

    @property
    def entrypoint(self) -> str:
        """``package/path/rule``, as rego-cpp and OPA's Data API name it."""
        return f"{self.package.replace('.', '/')}/{self.name}"


class RegoTestResult(Frozen):
    """How one test went; ``error`` says why it did not pass."""

    package: str
    name: str
    file: str
    passed: bool
    error: str | None = None

    @property
    def query(self) -> str:
        """``data.<package>.<rule>``."""
        return f"data.{self.package}.{self.name}"


def discover_rego_tests(policy_dir: Path) -> list[RegoTest]:
    """Every ``test_*`` rule of every ``*_test.rego`` under ``policy_dir``."""
    tests = []
    for path in rego_test_paths(require_dir(policy_dir)):
        module = read_module(policy_dir, path)
        package = _PACKAGE.search(module.source)
        if package is None:
            raise PolicyError(f"{module.name} has no package line")
        names = dict.fromkeys(_TEST_RULE.findall(module.source))
        tests += [RegoTest(package=package.group(1), name=n, file=module.name) for n in names]
    return tests


def run_rego_tests(
    policy_dir: Path,
    *,
    opa_url: str | None = None,
    upload_policies: bool = False,
    isolate: bool = True,
) -> list[RegoTestResult]:
    """Discover and run the Rego tests on the embedded engine, or on the OPA at ``opa_url``.

    On OPA the test files are uploaded for the run and removed after it; the policies
    are the server's own unless ``upload_policies`` puts the local ones first.
    """
    tests = discover_rego_tests(policy_dir)
    if opa_url is not None:
        from firewall.policy.rego_tests_opa import run_on_opa  # noqa: PLC0415 - import cycle

        return run_on_opa(policy_dir, tests, opa_url, upload_policies=upload_policies)
    return run_isolated(policy_dir, tests) if isolate else run_embedded(policy_dir, tests)


def verdict(test: RegoTest, value: Any) -> RegoTestResult:
    """Passed iff ``value`` is exactly ``true``."""
    if value is True:
        return RegoTestResult(**test.model_dump(), passed=True)
    if value is UNDEFINED:
        error = "undefined: a condition of the test did not hold"
    else:
        error = f"returned {json.dumps(value)[:200]}, not true"
    return RegoTestResult(**test.model_dump(), passed=False, error=error)


def run_embedded(policy_dir: Path, tests: Sequence[RegoTest]) -> list[RegoTestResult]:
    """Run ``tests`` in this process, compiling the policy with one test file at a time."""
    policy = read_policy(require_dir(policy_dir))
    results: list[RegoTestResult] = []
    for file, group in groupby(tests, key=lambda test: test.file):
        file_tests = list(group)
        modules = [*policy, read_module(policy_dir, policy_dir / file)]
        bundle = compile_bundle(modules, [test.entrypoint for test in file_tests])
        interpreter = new_interpreter()
        for test in file_tests:
            try:
                results.append(verdict(test, query(interpreter, bundle, test.entrypoint)))
            except PolicyError as exc:
                results.append(RegoTestResult(**test.model_dump(), passed=False, error=str(exc)))
    return results


def run_isolated(policy_dir: Path, tests: Sequence[RegoTest]) -> list[RegoTestResult]:
    """Like :func:`run_embedded`, one child process per test file, so a crash is reported."""
    results: list[RegoTestResult] = []
    for file, _ in groupby(tests, key=lambda test: test.file):
        results += _run_child(policy_dir, file)
    return results


def _run_child(policy_dir: Path, file: str) -> list[RegoTestResult]:
    command = [sys.executable, "-m", "firewall.policy.rego_tests", str(policy_dir), file]
    try:
        child = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603 - our own module
    except subprocess.TimeoutExpired as exc:
        raise PolicyError(f"Rego tests in {file} did not finish within 600 s") from exc
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        raise PolicyError(f"the Rego engine crashed ({name}) running {file}; {CRASH_HINT}")
    try:
        report = json.loads(child.stdout)
    except ValueError:
        report = {"error": child.stderr.strip()[-500:] or "no report"}
    if "error" in report:
        raise PolicyError(str(report["error"]))
    return [RegoTestResult.model_validate(item) for item in report["results"]]


def _child_main(policy_dir: str, file: str) -> int:
    """Entry point of the child process: run one file's tests, print a JSON report."""
    directory = Path(policy_dir)
    tests = [test for test in discover_rego_tests(directory) if test.file == file]
    try:
        results = run_embedded(directory, tests)
    except PolicyError as exc:
        print(json.dumps({"error": str(exc)}))
        return 3
    print(json.dumps({"results": [result.model_dump() for result in results]}))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1], sys.argv[2]))
