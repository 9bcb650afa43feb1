"""``firewall policy test``: run the Rego unit tests on the embedded engine or an OPA server.

Exit codes: 0 every test passed, 1 a test failed, 2 the tests could not run (policies
do not compile, the engine crashed, the server is unreachable, no tests found).
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from firewall.cli.replay import replay_command
from firewall.errors import FirewallError
from firewall.policy.rego_tests import RegoTestResult, run_rego_tests

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)

LOCAL_POLICY_DIR = Path("policies/rego")

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Policy directory (default: ./policies/rego if present, else the shipped policies).",
    ),
]
OpaOption = Annotated[
    str | None,
    typer.Option("--opa", help="Run on the OPA server at this URL, e.g. http://127.0.0.1:8181."),
]
UploadOption = Annotated[
    bool,
    typer.Option("--upload-policies", help="With --opa: upload the local policies first."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON report.")]


@app.callback()
def policy_group() -> None:
    """Test the Rego policies; replay audited decisions against a candidate policy."""


app.command("replay")(replay_command)


@app.command("test")
def run_tests(
    policy_dir: DirOption = None,
    opa: OpaOption = None,
    upload_policies: UploadOption = False,
    as_json: JsonOption = False,
) -> None:
    """Run every test_* rule of every *_test.rego; passes iff each is exactly true."""
    directory = policy_dir or default_policy_dir()
    try:
        results = run_rego_tests(directory, opa_url=opa, upload_policies=upload_policies)
    except FirewallError as exc:
        _fail(str(exc), as_json)
    if not results:
        _fail(f"no Rego tests (test_* rules in *_test.rego) under {directory}", as_json)
    failed = sum(not result.passed for result in results)
    if as_json:
        _print_json(results, directory, opa)
    else:
        _print_text(results)
    raise typer.Exit(1 if failed else 0)


def default_policy_dir() -> Path:
    """``./policies/rego`` if it exists, else the policies shipped in the package."""
    if LOCAL_POLICY_DIR.is_dir():
        return LOCAL_POLICY_DIR
    return Path(str(files("firewall.policies") / "rego"))


def _print_text(results: list[RegoTestResult]) -> None:
    console = Console(highlight=False, soft_wrap=True)
    for result in results:
        line = Text.assemble(
            ("PASS " if result.passed else "FAIL ", "green" if result.passed else "bold red"),
            result.query,
        )
        if result.error:
            line.append(f"  {result.error}", style="red")
        console.print(line)
    passed = sum(result.passed for result in results)
    console.print(f"{passed} passed, {len(results) - passed} failed")


def _print_json(results: list[RegoTestResult], directory: Path, opa: str | None) -> None:
    passed = sum(result.passed for result in results)
    report = {
        "engine": opa or "embedded",
        "dir": str(directory),
        "passed": passed,
        "failed": len(results) - passed,
        "results": [result.model_dump() for result in results],
    }
    typer.echo(json.dumps(report, indent=2))


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"error": message}))
    else:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            Text.assemble(("error: ", "bold red"), message)
        )
    raise typer.Exit(2)
