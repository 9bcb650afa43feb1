"""Prometheus metrics of the approval service (one registry per app, not the global one)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from firewall.approvals.models import HoldRecord
from firewall.approvals.service import ApprovalService
from firewall.errors import FirewallError

HOLD_AGE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ServiceMetrics:
    """Holds pending, decisions and refusals by channel, and how long decisions take."""

    def __init__(self, approvals: ApprovalService) -> None:
        self.registry = CollectorRegistry()
        self._approvals = approvals
        pending = Gauge(
            "firewall_holds_pending", "Holds waiting for a decision", registry=self.registry
        )
        pending.set_function(self._count_pending)
        self.decisions = Counter(
            "firewall_hold_decisions",
            "Decisions recorded through this service",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "firewall_approval_refusals",
            "Decisions refused (not an approver, self-approval, already decided...)",
            ["channel", "code"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "firewall_rest_auth_failures",
            "REST requests refused for their credentials: bad or missing token, or throttled",
            ["reason"],
            registry=self.registry,
        )
        self.slack_refusals = Counter(
            "firewall_slack_requests_refused",
            "Requests to /slack/events refused before bolt saw them, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.slack_replays = Counter(
            "firewall_slack_replays",
            "Exact replays of handled Slack requests, acknowledged and dropped",
            registry=self.registry,
        )
        self.time_to_decision = Histogram(
            "firewall_hold_time_to_decision_seconds",
            "From a hold being opened to its decision",
            ["outcome"],
            buckets=HOLD_AGE_BUCKETS,
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "firewall_decision_request_seconds",
            "From a decision request arriving to the decision being durable",
            ["channel"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )

    def record(self, channel: str, record: HoldRecord | None, code: str | None) -> None:
        """Count one decision attempt: a decided (or updated) hold, or a refusal code."""
        if record is None:
            self.refusals.labels(channel=channel, code=code or "unknown").inc()
            return
        outcome = record.state.value if record.decided_at else "approval_recorded"
        self.decisions.labels(channel=channel, outcome=outcome).inc()
        if record.decided_at is not None:
            age = (record.decided_at - record.created_at).total_seconds()
            self.time_to_decision.labels(outcome=outcome).observe(max(age, 0.0))

    @contextmanager
    def timed(self, channel: str) -> Iterator[None]:
        """Observe how long the block (one decision request) takes."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.request_latency.labels(channel=channel).observe(time.perf_counter() - start)

    def exposition(self) -> bytes:
        """The text exposition format (reads the store for the pending count)."""
        return generate_latest(self.registry)

    def _count_pending(self) -> float:
        try:
            return float(len(self._approvals.pending()))
        except FirewallError:
            return math.nan
