"""Prometheus metrics for the gate (extra ``[service]`` brings ``prometheus-client``).

``firewall_decisions_total{tool, outcome, code}``, ``firewall_stage_seconds{stage}``,
``firewall_call_seconds{outcome}``, ``firewall_audit_append_seconds`` and
``firewall_approval_wait_seconds``, in the registry given (default: the global one).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from firewall.observe import (
    APPROVAL_WAIT,
    AUDIT_APPEND,
    CALL,
    DECIDE,
    STAGE,
    AttributeValue,
    Span,
)

FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class _Recorded:
    def __init__(self, attributes: dict[str, AttributeValue]) -> None:
        self.attributes: dict[str, AttributeValue] = dict(attributes)

    def set(self, key: str, value: AttributeValue | None) -> None:
        if value is not None:
            self.attributes[key] = value

    def label(self, key: str) -> str:
        return str(self.attributes.get(key, ""))


class PrometheusObserver:
    """Counts decisions and times stages, calls, audit appends and approval waits."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.decisions = Counter(
            "firewall_decisions", "Gate decisions", ["tool", "outcome", "code"], registry=registry
        )
        self.stages = Histogram(
            "firewall_stage_seconds", "Time in each check", ["stage"], registry=registry,
            buckets=FAST_BUCKETS,
        )  # fmt: skip
        self.calls = Histogram(
            "firewall_call_seconds", "Guarded calls, tool included", ["outcome"],
            registry=registry,
        )  # fmt: skip
        self.appends = Histogram(
            "firewall_audit_append_seconds", "Audit appends", registry=registry,
            buckets=FAST_BUCKETS,
        )  # fmt: skip
        self.waits = Histogram(
            "firewall_approval_wait_seconds", "Waiting for approvers", registry=registry
        )

    def span(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[Span]:
        return self._timed(name, attributes)

    @contextmanager
    def _timed(self, name: str, attributes: dict[str, AttributeValue]) -> Iterator[Span]:
        recorded, started = _Recorded(attributes), time.perf_counter()
        try:
            yield recorded
        finally:
            self._record(name, recorded, time.perf_counter() - started)

    def _record(self, name: str, span: _Recorded, seconds: float) -> None:
        if name == STAGE:
            self.stages.labels(stage=span.label("stage")).observe(seconds)
        elif name == DECIDE:
            tool, outcome, code = span.label("tool"), span.label("outcome"), span.label("code")
            self.decisions.labels(tool=tool, outcome=outcome, code=code).inc()
        elif name == CALL:
            self.calls.labels(outcome=span.label("outcome")).observe(seconds)
        elif name == AUDIT_APPEND:
            self.appends.observe(seconds)
        elif name == APPROVAL_WAIT:
            self.waits.observe(seconds)
