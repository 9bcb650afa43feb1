"""Failed REST authentications, throttled per client and counted (metric, log, audit).

A client (its address as the service sees it) may fail ``limit`` times in a moving
minute; after that every request it makes is refused with 429 until the window frees,
its right token included, so guessing gets no answers. Each failure is logged and
audited; a throttled client's further attempts are audited once per window and only
counted after that, so a flood cannot flood the audit log.
"""

from __future__ import annotations

import threading
import time

import structlog
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from firewall.audit.events import AuditEvent, AuditSink

from .metrics import ServiceMetrics

log = structlog.get_logger("firewall.service")
MAX_ANNOUNCED = 10_000
"""Throttled clients remembered for audit-once; past that, expired entries are dropped."""


class AuthThrottle:
    """Counts failed authentications per client and says when a client must wait."""

    def __init__(self, limit: int, metrics: ServiceMetrics, audit: AuditSink) -> None:
        self._rule = RateLimitItemPerMinute(limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._metrics = metrics
        self._audit = audit
        self._announced: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> int:
        """Seconds ``client`` must wait before authenticating again (0: it may try now)."""
        if self._limiter.test(self._rule, client):
            return 0
        reset_at = self._limiter.get_window_stats(self._rule, client).reset_time
        return max(1, int(reset_at - time.time()) + 1)

    def throttled(self, client: str, path: str, wait_s: int) -> None:
        """Count a refused attempt of a throttled client (audited once per window)."""
        self._metrics.auth_failures.labels(reason="throttled").inc()
        now = time.time()
        with self._lock:
            first = self._announced.get(client, 0.0) <= now
            if first:
                if len(self._announced) >= MAX_ANNOUNCED:
                    self._announced = {c: t for c, t in self._announced.items() if t > now}
                self._announced[client] = now + wait_s
        if first:
            log.warning("rest_auth_throttled", client=client, path=path, wait_s=wait_s)
            self._record(client, path, "throttled")

    def failed(self, client: str, path: str, reason: str) -> None:
        """Count one failed authentication of ``client``."""
        self._limiter.hit(self._rule, client)
        self._metrics.auth_failures.labels(reason=reason).inc()
        log.warning("rest_auth_failed", client=client, path=path, reason=reason)
        self._record(client, path, reason)

    def _record(self, client: str, path: str, reason: str) -> None:
        event = AuditEvent(
            event="authentication_failed",
            code=reason,
            details={"client": client, "path": path, "reason": reason, "channel": "rest"},
        )
        try:
            self._audit.append(event)
        except Exception:
            log.exception("rest_auth_failure_unaudited", client=client, reason=reason)
