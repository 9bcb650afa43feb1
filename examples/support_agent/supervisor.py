"""The demo's supervisor: a scripted approver thread, or instructions for a human."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from firewall.approvals.models import HoldRecord, HoldState
from firewall.audit.store import SqlAuditLog
from firewall.config import FirewallConfig
from firewall.factory import approval_service

THINKING_TIME_S = 0.3


class ScriptedSupervisor:
    """Approves each new pending hold as ``approver``, the way a human would from Slack."""

    def __init__(self, config: FirewallConfig, console: Console, approver: str) -> None:
        self._audit = SqlAuditLog(config.storage.audit())
        self._service = approval_service(config, self._audit)
        self._console = console
        self._approver = approver
        self._since = datetime.now(UTC)
        self._seen: set[str] = set()
        self._stop = threading.Event()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Watch for holds in a background thread while the block runs."""
        thread = threading.Thread(target=self._watch, name="scripted-supervisor", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            for hold in self._service.store.list(HoldState.PENDING):
                if hold.hold_id not in self._seen and hold.created_at >= self._since:
                    self._seen.add(hold.hold_id)
                    self._decide(hold)

    def _decide(self, hold: HoldRecord) -> None:
        self._console.print(
            f"[yellow]HOLD[/]     {hold.tool}({_args(hold)}) -> {hold.hold_id} waits for"
            f" '{hold.approvers}': {'; '.join(hold.reasons)}"
        )
        time.sleep(THINKING_TIME_S)
        decided = self._service.approve(hold.hold_id, self._approver)
        self._console.print(
            f"[cyan]APPROVED[/] by {self._approver} (state {decided.state.value});"
            " the waiting agent resumes"
        )


def _args(hold: HoldRecord) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in hold.args.items())


def print_manual_instructions(console: Console, data_dir: Path) -> None:
    """Tell a human how to decide held calls from a second terminal."""
    console.print(
        "[bold]Manual approval:[/] when a call is held, run in a second terminal:\n"
        f"  firewall approvals list --data-dir {data_dir}\n"
        f"  firewall approvals approve HOLD_ID --as alice --data-dir {data_dir}"
    )
