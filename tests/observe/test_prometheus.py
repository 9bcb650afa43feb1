"""Prometheus metrics of the gate: decisions by tool, outcome and code; time per stage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from firewall.observe import Observers
from firewall.observe.otel import OtelObserver
from firewall.observe.prometheus import PrometheusObserver
from firewall.settings import GateSettings
from tests.gate_helpers import Rig, call, make_rig


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def rig(tmp_path: Path, registry: CollectorRegistry) -> Iterator[Rig]:
    built = make_rig(tmp_path, settings=GateSettings(hold_mode="return"))
    built.firewall.observer = Observers(PrometheusObserver(registry), OtelObserver())
    yield built
    built.firewall.close()


def decisions(registry: CollectorRegistry, tool: str, outcome: str, code: str = "") -> float:
    labels = {"tool": tool, "outcome": outcome, "code": code}
    return registry.get_sample_value("firewall_decisions_total", labels) or 0.0


def test_decisions_are_counted_by_tool_outcome_and_code(
    rig: Rig, registry: CollectorRegistry
) -> None:
    for _ in range(3):
        rig.firewall.run(call(), rig.tool())
    rig.firewall.run(call("pay", amount=5), rig.tool())
    rig.firewall.run(call("refund", order_id="o-1", amount=50), rig.tool())
    assert decisions(registry, "lookup", "allow") == 3
    assert decisions(registry, "pay", "deny", "policy") == 1
    assert decisions(registry, "refund", "hold") == 1


def test_every_stage_is_timed_once_per_call_that_reaches_it(
    rig: Rig, registry: CollectorRegistry
) -> None:
    for _ in range(2):
        rig.firewall.run(call(), rig.tool())
    for stage in rig.firewall.stages:
        count = registry.get_sample_value("firewall_stage_seconds_count", {"stage": stage.name})
        assert count == 2, stage.name
    appends = registry.get_sample_value("firewall_audit_append_seconds_count")
    assert appends == 4  # a decision and an outcome per call
    executed = registry.get_sample_value("firewall_call_seconds_count", {"outcome": "executed"})
    assert executed == 2
