"""The demo's supervisor: a scripted approver, or instructions for a human."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from firewall.approvals.models import HoldRecord
from firewall.approvals.service import ApprovalService
from firewall.errors import MissingDependencyError
from firewall.service_config import TOKENS_ENV, hash_token
from firewall.testing.approver import ScriptedApprover, Verdict

from .rest_approver import TOKEN_ENV

THINKING_TIME_S = 0.3
SERVICE_START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
POLL_S = 0.05


@contextmanager
def scripted_supervisor(
    service: ApprovalService, console: Console, approver: str = "alice"
) -> Iterator[None]:
    """Decide each hold opened from now on as ``approver``, printing what happens.

    Like a careful human, the scripted supervisor denies a hold that the policy traced to
    untrusted content (a likely prompt injection) and approves the others.
    """
    since = datetime.now(UTC)

    def script(hold: HoldRecord) -> Verdict:
        if hold.created_at < since:  # an old hold from an earlier run: leave it alone
            return Verdict("ignore", approver)
        console.print(
            f"[yellow]HOLD[/]     {hold.tool}({_args(hold)}) -> {hold.hold_id} waits for"
            f" '{hold.approvers}':\n"
            + "\n".join(f"           - {escape(reason)}" for reason in hold.reasons)
        )
        time.sleep(THINKING_TIME_S)
        if any("untrusted" in reason for reason in hold.reasons):
            return Verdict("deny", approver, "looks like a prompt injection from a ticket")
        return Verdict("approve", approver)

    def decided(hold: HoldRecord, verdict: Verdict) -> None:
        word = "APPROVED" if verdict.action == "approve" else "DENIED"
        console.print(
            f"[cyan]{word}[/] by {verdict.approver} (hold {hold.state.value});"
            " the waiting agent resumes"
        )

    with ScriptedApprover(service, script, on_decided=decided).running():
        yield


def _args(hold: HoldRecord) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in hold.args.items())


@contextmanager
def manual_supervisor(
    service: ApprovalService, console: Console, config_file: Path
) -> Iterator[None]:
    """Print each hold opened from now on with its id and the commands that decide it."""
    since = datetime.now(UTC)
    config = shlex.quote(str(config_file))
    console.print(
        "[bold]Manual approval:[/] the agent waits at each held call; decide it from a"
        " second terminal with the commands printed below."
    )

    def show(hold: HoldRecord) -> Verdict:
        if hold.created_at >= since:
            console.print(
                f"[yellow]HOLD[/]     {escape(hold.tool)}({escape(_args(hold))}) waits for"
                f" '{hold.approvers}' as hold {hold.hold_id}:\n"
                + "".join(f"           - {escape(reason)}\n" for reason in hold.reasons)
                + "         decide it in a second terminal:\n"
                f"           firewall approvals approve {hold.hold_id} --as alice"
                f" --config {config}\n"
                f"           firewall approvals deny {hold.hold_id} --as alice"
                f' --reason "not eligible" --config {config}'
            )
        return Verdict("ignore", "alice")

    with ScriptedApprover(service, show).running():
        yield


@contextmanager
def rest_supervisor(
    console: Console, config_path: Path, db_url: str, data_dir: Path, approver: str = "alice"
) -> Iterator[None]:
    """Run ``firewall serve`` and a REST approver as two more OS processes meanwhile.

    The approver's bearer token is made up for this run; the service knows only its
    SHA-256 digest (``$FIREWALL_API_TOKENS``) and learns who approves from it.
    """
    for package in ("starlette", "uvicorn", "prometheus_client", "httpx"):
        if importlib.util.find_spec(package) is None:
            raise MissingDependencyError(package, "service")
    token = secrets.token_urlsafe(32)
    service_env = {**os.environ, TOKENS_ENV: json.dumps({approver: hash_token(token)})}
    with _service(config_path, db_url, data_dir, service_env) as url:
        console.print(
            f"[bold]SERVICE[/]  firewall serve at {url}; supervisor '{approver}' approves"
            " holds from another process through its REST API"
        )
        since = datetime.now(UTC).isoformat()
        command = [
            sys.executable,
            "-m",
            "firewall.examples.support_agent.rest_approver",
            url,
            since,
        ]
        env = {**os.environ, TOKEN_ENV: token}
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:  # noqa: S603
            relay = threading.Thread(target=_relay, args=(process, console), daemon=True)
            relay.start()
            try:
                yield
            finally:
                _stop(process)
                relay.join(STOP_TIMEOUT_S)


@contextmanager
def _service(config_path: Path, db_url: str, data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    ready = data_dir / "service.url"
    ready.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "firewall.adapters.service", "--config", str(config_path),
        "--db", db_url, "--port", "0", "--ready-file", str(ready),
    ]  # fmt: skip
    with (data_dir / "service.log").open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, env=env)  # noqa: S603
        try:
            yield _await_ready(process, ready, data_dir / "service.log")
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[Any]) -> None:
    """Ask the process to stop; kill it if it does not within ``STOP_TIMEOUT_S``."""
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _await_ready(process: subprocess.Popen[Any], ready: Path, log: Path) -> str:
    for _ in range(int(SERVICE_START_TIMEOUT_S / POLL_S)):
        if ready.exists():
            return ready.read_text(encoding="utf-8").strip()
        if process.poll() is not None:
            break
        time.sleep(POLL_S)
    raise RuntimeError(f"the approval service did not start; see {log}")


def _relay(process: subprocess.Popen[str], console: Console) -> None:
    """Show what the REST approver process reports."""
    assert process.stdout is not None
    for line in process.stdout:
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message["event"] == "hold":
            args = ", ".join(f"{key}={value!r}" for key, value in message["args"].items())
            console.print(
                f"[yellow]HOLD[/]     {escape(message['tool'])}({escape(args)}) ->"
                f" {message['hold_id']} waits for '{message['approvers']}':\n"
                + "\n".join(f"           - {escape(reason)}" for reason in message["reasons"])
            )
        elif message["event"] == "decided" and message["state"]:
            by = ", ".join(message["by"] or [])
            console.print(
                f"[cyan]APPROVED[/] by {by} via the REST API (hold {message['state']});"
                " the waiting agent resumes"
            )
        else:
            console.print(f"[red]APPROVER[/] {escape(json.dumps(message))}")
