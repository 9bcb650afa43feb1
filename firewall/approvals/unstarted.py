"""Approvals this process used for a run that has not started yet: they can be given back.

``Firewall.resolve_hold`` uses an approval (compare-and-swap to ``executed``) as soon as
it sees it approved, so that no second worker can run the call. The run starts a little
later, after the last kill-switch look and the credential mint; if either fails, the tool
never starts and the gate gives the approval back (:meth:`ApprovalService.give_back`).
Only the use made by this process can be given back, and only until its tool starts.
"""

from __future__ import annotations

import threading

from firewall.approvals.models import HoldRecord

KEEP = 1024
"""Uses remembered at most; the oldest is forgotten first (its approval stays used)."""


class UnstartedRuns:
    """The ``executed`` records of approvals used here whose tool has not started."""

    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, HoldRecord] = {}
        self._keep = keep

    def remember(self, executed: HoldRecord) -> None:
        """Note that this process used ``executed``'s approval; its tool starts soon."""
        with self._lock:
            self._records[executed.hold_id] = executed
            while len(self._records) > self._keep:
                del self._records[next(iter(self._records))]

    def take(self, hold_id: str) -> HoldRecord | None:
        """Forget the use of ``hold_id`` and return it (None if this process made none)."""
        with self._lock:
            return self._records.pop(hold_id, None)
