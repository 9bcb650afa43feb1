"""The demo's supervisor: a scripted approver, or instructions for a human."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from firewall.approvals.models import HoldRecord
from firewall.approvals.service import ApprovalService
from firewall.testing.approver import ScriptedApprover, Verdict

THINKING_TIME_S = 0.3


@contextmanager
def scripted_supervisor(
    service: ApprovalService, console: Console, approver: str = "alice"
) -> Iterator[None]:
    """Approve each hold opened from now on as ``approver``, printing what happens."""
    since = datetime.now(UTC)

    def script(hold: HoldRecord) -> Verdict:
        if hold.created_at < since:  # an old hold from an earlier run: leave it alone
            return Verdict("ignore", approver)
        console.print(
            f"[yellow]HOLD[/]     {hold.tool}({_args(hold)}) -> {hold.hold_id} waits for"
            f" '{hold.approvers}': {'; '.join(hold.reasons)}"
        )
        time.sleep(THINKING_TIME_S)
        return Verdict("approve", approver)

    def decided(hold: HoldRecord, verdict: Verdict) -> None:
        console.print(
            f"[cyan]APPROVED[/] by {verdict.approver} (hold {hold.state.value});"
            " the waiting agent resumes"
        )

    with ScriptedApprover(service, script, on_decided=decided).running():
        yield


def _args(hold: HoldRecord) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in hold.args.items())


def print_manual_instructions(console: Console, data_dir: Path) -> None:
    """Tell a human how to decide held calls from a second terminal."""
    console.print(
        "[bold]Manual approval:[/] when a call is held, run in a second terminal:\n"
        f"  firewall approvals list --data-dir {data_dir}\n"
        f"  firewall approvals approve HOLD_ID --as alice --data-dir {data_dir}"
    )
