"""A background thread that keeps checkpoints coming even when nothing is appended.

Every writer process may run one: each stores a checkpoint only when the last one (by
any process) is at least ``interval_s`` old, so the log gets one per interval. An
auditor who sees no recent checkpoint knows the log stopped, or was rolled back.
"""

from __future__ import annotations

import threading
from types import TracebackType

import structlog

from firewall.audit.store import SqlAuditLog
from firewall.errors import FirewallError

log = structlog.get_logger("firewall.audit")
MIN_POLL_S = 0.05


class PeriodicCheckpointer:
    """Calls ``audit.checkpoint(min_age_s=interval_s)`` a few times per interval."""

    def __init__(self, audit: SqlAuditLog, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("checkpoint interval must be positive")
        self._audit = audit
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpointer", daemon=True)

    def start(self) -> PeriodicCheckpointer:
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> PeriodicCheckpointer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        poll = max(MIN_POLL_S, self._interval_s / 4)
        while not self._stop.wait(poll):
            try:
                self._audit.checkpoint(min_age_s=self._interval_s)
            except FirewallError as exc:
                log.exception("audit_checkpoint_failed", error=str(exc))
