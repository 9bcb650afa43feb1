"""The service's moving parts: stores, approval service, Slack, metrics, and its worker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from firewall.approvals.journal import DecisionJournal
from firewall.approvals.notify import DecisionNotifier, Sleeper, Wakeup, notifier_from_url
from firewall.approvals.service import ApprovalService, utc_now
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.read_only import ReadOnlyAudit
from firewall.service_config import (
    ServiceConfig,
    SlackCredentials,
    SlackSettings,
    all_tokens,
)

from .metrics import ServiceMetrics

if TYPE_CHECKING:
    from ..slack import SlackApprovals

log = structlog.get_logger("firewall.service")


class ServiceRuntime:
    """Opens the shared stores and, when ``[slack]`` is configured, the Slack side."""

    def __init__(self, config: ServiceConfig, clock: Callable[[], datetime] = utc_now) -> None:
        storage = config.firewall.storage
        credentials = config.slack.credentials() if config.slack else None  # fail fast
        self.config = config
        self.tokens = all_tokens(config)
        self.notifier: DecisionNotifier | None = notifier_from_url(config.service.redis_url)
        self.store = SqlApprovalStore(storage.approvals())
        # Reads outcomes only: decisions go to the journal, adopted onto the chain by the
        # writer, so the service never holds the audit signing key.
        self.audit = ReadOnlyAudit(storage.audit())
        self.journal = DecisionJournal(self.store, clock)
        self.approvals = ApprovalService(
            self.store,
            self.journal,
            config.firewall.approvers,
            clock=clock,
            notifier=self.notifier,
            aliases=config.aliases(),
        )
        self.metrics = ServiceMetrics(self.approvals)
        self.slack: SlackApprovals | None = None
        if config.slack is not None and credentials is not None:
            self.slack = _slack(config.slack, credentials, self, clock)
        self.worker = Worker(self, config.service.sync_interval_s)

    def close(self) -> None:
        """Stop the worker and release every store."""
        self.worker.stop()
        if self.slack is not None:
            self.slack.close()
        self.store.close()
        self.audit.close()
        close = getattr(self.notifier, "close", None)
        if close is not None:
            close()


def _slack(
    settings: SlackSettings,
    credentials: SlackCredentials,
    runtime: ServiceRuntime,
    clock: Callable[[], datetime],
) -> SlackApprovals:
    from ..slack import SlackApprovals  # noqa: PLC0415 - optional extra

    return SlackApprovals(
        settings,
        credentials,
        runtime.approvals,
        runtime.audit,
        cards_url=runtime.config.firewall.storage.approvals(),
        tools=runtime.config.firewall.tools,
        clock=clock,
        on_decision=lambda channel, _action, record, code: runtime.metrics.record(
            channel, record, code
        ),
    )


class Worker:
    """Expires overdue holds and syncs Slack cards, on a timer or when a hold changes."""

    def __init__(self, runtime: ServiceRuntime, interval_s: float) -> None:
        self._runtime = runtime
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="firewall-service", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval_s + 10)
            self._thread = None

    def tick(self) -> None:
        """One round: expire what is due, then bring Slack up to date."""
        runtime = self._runtime
        for record in runtime.approvals.expire_due() + runtime.approvals.expire_unused():
            runtime.metrics.record("expiry", record, None)
        if runtime.slack is not None:
            runtime.slack.sync.sync_all()

    def _run(self) -> None:
        with self._wakeups() as wakeup:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:
                    log.exception("service_tick_failed")
                if self._stop.is_set():
                    return
                wakeup.wait(self._interval_s)

    def _wakeups(self) -> AbstractContextManager[Wakeup]:
        notifier = self._runtime.notifier
        if notifier is None:
            return nullcontext(_StopAwareSleeper(self._stop))
        return notifier.subscribe(None)


class _StopAwareSleeper(Sleeper):
    def __init__(self, stop: threading.Event) -> None:
        self._stop_event = stop

    def wait(self, timeout_s: float) -> bool:
        return self._stop_event.wait(timeout_s)
