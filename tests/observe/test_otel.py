"""OpenTelemetry spans of guarded calls, read back with the SDK's in-memory exporter.

One ``firewall.call`` span per guarded call; under it the decision, each stage, the audit
appends and the approval wait. Attributes name the tool, outcome, deny code, hold id and
policy revision, never an argument value.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from firewall.observe.otel import OtelObserver
from firewall.settings import GateSettings
from firewall.types import ToolCall
from tests.gate_helpers import AGENT, Rig, call, make_rig

SECRET_ID = "c-secret-4711"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def rig(tmp_path: Path, exporter: InMemorySpanExporter) -> Iterator[Rig]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    built = make_rig(tmp_path)
    built.firewall.observer = OtelObserver(provider)
    yield built
    built.firewall.close()


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def parent_of(span: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> ReadableSpan | None:
    parent_id = span.parent.span_id if span.parent else None
    return next((s for s in spans if s.context and s.context.span_id == parent_id), None)


def test_an_allowed_call_is_one_span_with_its_decision_stages_and_audit_appends_under_it(
    rig: Rig, exporter: InMemorySpanExporter
) -> None:
    rig.firewall.run(call(customer_id=SECRET_ID), rig.tool())
    spans = exporter.get_finished_spans()
    (root,) = by_name(spans, "firewall.call")
    (decide,) = by_name(spans, "firewall.decide")
    assert root.parent is None
    assert parent_of(decide, spans) is root
    stages = by_name(spans, "firewall.stage")
    assert [s.attributes["firewall.stage"] for s in stages if s.attributes] == [
        stage.name for stage in rig.firewall.stages
    ]
    assert all(parent_of(stage, spans) is decide for stage in stages)
    appends = by_name(spans, "firewall.audit.append")
    assert {(s.attributes or {}).get("firewall.event") for s in appends} == {"decision", "outcome"}
    assert dict(root.attributes or {}) == {
        "firewall.tool": "lookup",
        "firewall.outcome": "executed",
    }
    assert (decide.attributes or {})["firewall.outcome"] == "allow"
    assert (decide.attributes or {})["firewall.policy_revision"] == rig.firewall.policy.revision


def test_a_denial_carries_its_code_and_no_argument_value(
    rig: Rig, exporter: InMemorySpanExporter
) -> None:
    rig.firewall.run(call("pay", customer_id=SECRET_ID, amount=12), rig.tool())
    spans = exporter.get_finished_spans()
    (decide,) = by_name(spans, "firewall.decide")
    assert (decide.attributes or {})["firewall.code"] == "policy"
    values = [str(value) for span in spans for value in (span.attributes or {}).values()]
    assert values
    assert not [value for value in values if SECRET_ID in value or value == "12"]


def test_a_tool_name_the_model_made_up_is_not_a_span_attribute(
    rig: Rig, exporter: InMemorySpanExporter
) -> None:
    made_up = ToolCall(tool="exfil_" + SECRET_ID, args={}, principal=AGENT, session_id="s-1")
    rig.firewall.run(made_up, rig.tool())
    (root,) = by_name(exporter.get_finished_spans(), "firewall.call")
    assert (root.attributes or {})["firewall.tool"] == "(undeclared)"


def test_the_wait_for_an_approver_is_a_span_naming_the_hold(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    rig = make_rig(tmp_path, settings=GateSettings(hold_mode="wait"))
    rig.firewall.observer = OtelObserver(provider)

    def approve_when_held() -> None:
        for _ in range(200):
            pending = rig.approvals.pending()
            if pending:
                rig.approvals.approve(pending[0].hold_id, "alice")
                return
            threading.Event().wait(0.02)

    approver = threading.Thread(target=approve_when_held)
    approver.start()
    result = rig.firewall.run(call("refund", order_id="o-1", amount=50), rig.tool())
    approver.join()
    spans = exporter.get_finished_spans()
    (wait,) = by_name(spans, "firewall.approval.wait")
    (decide,) = by_name(spans, "firewall.decide")
    assert (wait.attributes or {})["firewall.hold_id"] == (decide.attributes or {})[
        "firewall.hold_id"
    ]
    assert parent_of(wait, spans) is by_name(spans, "firewall.call")[0]
    assert type(result).__name__ == "Executed"
    rig.firewall.close()


def test_async_calls_nest_their_spans_too(rig: Rig, exporter: InMemorySpanExporter) -> None:
    async def execute() -> str:
        return "ok"

    asyncio.run(rig.firewall.arun(call(), execute))
    spans = exporter.get_finished_spans()
    (root,) = by_name(spans, "firewall.call")
    (decide,) = by_name(spans, "firewall.decide")
    assert parent_of(decide, spans) is root
    assert all(parent_of(s, spans) is decide for s in by_name(spans, "firewall.stage"))


def test_the_library_installs_no_global_tracer_provider(rig: Rig) -> None:
    rig.firewall.run(call(), rig.tool())
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
