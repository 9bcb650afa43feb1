"""A scripted approver: decides pending holds from a background thread, like a supervisor."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from firewall.approvals.models import HoldRecord
from firewall.approvals.service import ApprovalService


@dataclass(frozen=True)
class Verdict:
    """What the scripted approver does with one hold."""

    action: Literal["approve", "deny", "ignore"]
    approver: str
    reason: str | None = None


def always(action: Literal["approve", "deny"], approver: str) -> Callable[[HoldRecord], Verdict]:
    """A script that gives every hold the same verdict."""
    return lambda _hold: Verdict(action, approver)


class ScriptedApprover:
    """Polls the approval service and applies ``script`` to each new pending hold."""

    def __init__(
        self,
        service: ApprovalService,
        script: Callable[[HoldRecord], Verdict],
        *,
        poll_s: float = 0.02,
        on_hold: Callable[[HoldRecord], None] | None = None,
        on_decided: Callable[[HoldRecord, Verdict], None] | None = None,
    ) -> None:
        self._service = service
        self._script = script
        self._poll_s = poll_s
        self._on_hold = on_hold
        self._on_decided = on_decided
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self.decided: list[HoldRecord] = []

    @contextmanager
    def running(self) -> Iterator[ScriptedApprover]:
        """Decide holds in a background thread while the block runs."""
        thread = threading.Thread(target=self._loop, name="scripted-approver", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._poll_s):
            for hold in self._service.pending():
                if hold.hold_id not in self._seen:
                    self._seen.add(hold.hold_id)
                    self._decide(hold)

    def _decide(self, hold: HoldRecord) -> None:
        if self._on_hold:
            self._on_hold(hold)
        verdict = self._script(hold)
        if verdict.action == "approve":
            decided = self._service.approve(hold.hold_id, verdict.approver)
        elif verdict.action == "deny":
            decided = self._service.deny(hold.hold_id, verdict.approver, verdict.reason)
        else:
            return
        self.decided.append(decided)
        if self._on_decided:
            self._on_decided(decided, verdict)
