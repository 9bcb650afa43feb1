"""Where the time of one guarded call goes: phases timed by instance wrappers, then removed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from firewall.bench import breakdown
from firewall.bench.breakdown import Breakdown, PhaseClock, Probe, shadowed, timing
from firewall.bench.guarded import embedded_firewall
from firewall.bench.markdown import markdown_report
from firewall.bench.render import text_report
from firewall.bench.results import BenchReport
from firewall.gate import Firewall

GATE_STEPS = ("_refusal_if_unaudited", "_remember", "_before_run", "_audit_outcome")


class Counter:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


class Worker:
    def __init__(self, clock: Counter) -> None:
        self.clock = clock

    def outer(self) -> None:
        self.clock.ns += 100
        self.inner()
        self.part()

    def inner(self) -> None:
        self.clock.ns += 30

    def part(self) -> None:
        self.clock.ns += 5


@pytest.fixture(scope="module")
def measured() -> Iterator[tuple[Firewall, Breakdown]]:
    with embedded_firewall() as firewall:
        yield firewall, breakdown.where_the_time_goes(firewall, calls=5, warmup=2)


def labelled(found: Breakdown) -> dict[str, float]:
    return {phase.label: phase.median_us for phase in found.phases}


def test_every_stage_and_the_decision_record_take_measurable_time(
    measured: tuple[Firewall, Breakdown],
) -> None:
    firewall, found = measured
    medians = labelled(found)
    expected = [f"check: {stage.name}" for stage in firewall.stages]
    expected += [breakdown.ENGINE, breakdown.DECISION_RECORD, breakdown.TOTAL]
    assert found.calls == 5
    for label in expected:
        assert medians[label] > 0, label


def test_shares_are_of_the_whole_call_and_the_engine_row_sits_under_the_policy_check(
    measured: tuple[Firewall, Breakdown],
) -> None:
    _, found = measured
    labels = [phase.label for phase in found.phases]
    assert labels[labels.index("check: policy") + 1] == breakdown.ENGINE
    assert [phase.label for phase in found.phases if phase.nested] == [breakdown.ENGINE]
    total = found.phases[-1]
    assert (total.label, total.share) == (breakdown.TOTAL, 1.0)
    for phase in found.phases[:-1]:
        assert phase.share == pytest.approx(phase.median_us / total.median_us)


def test_the_wrappers_are_gone_afterwards(measured: tuple[Firewall, Breakdown]) -> None:
    firewall, _ = measured
    assert all("check" not in vars(stage) for stage in firewall.stages)
    assert "evaluate" not in vars(firewall.policy)
    assert not set(GATE_STEPS) & set(vars(firewall))


def test_a_phase_excludes_the_phases_it_calls_but_keeps_its_nested_one() -> None:
    counter = Counter()
    worker, clock = Worker(counter), PhaseClock(now=counter)
    probes = [
        Probe("outer", worker, "outer"),
        Probe("inner", worker, "inner"),
        Probe("part", worker, "part", nested=True),
    ]
    with timing(probes, clock):
        worker.outer()
    assert clock.spent == {"inner": 30, "part": 5, "outer": 105}


def test_shadowing_puts_back_an_attribute_the_object_already_had() -> None:
    worker = Worker(Counter())
    original = worker.part
    worker.part = original  # type: ignore[method-assign]
    calls: list[str] = []

    def wrap(method: breakdown.Method) -> breakdown.Method:
        return lambda: calls.append("wrapped") or method()

    with shadowed(worker, "part", wrap), shadowed(worker, "inner", wrap):
        worker.part()
        worker.inner()
    assert calls == ["wrapped", "wrapped"]
    assert vars(worker)["part"] is original
    assert "inner" not in vars(worker)


def test_the_markdown_and_the_terminal_show_every_stage_row(
    measured: tuple[Firewall, Breakdown],
) -> None:
    firewall, found = measured
    report = BenchReport(
        command="firewall bench",
        started_at=datetime(2026, 1, 2, tzinfo=UTC),
        calls=1,
        requested_calls=1,
        latency_budget_s=1.0,
        warmup=0,
        memory_calls=1,
        breakdown=found.phases,
        breakdown_calls=found.calls,
    )
    markdown, text = markdown_report(report), text_report(report)
    section = markdown.split("## Where the time goes (embedded guarded call)\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    assert "separate pass of\n5 calls" in section
    assert "| phase | median µs | share of the call |" in section
    for stage in firewall.stages:
        assert f"| check: {stage.name} | " in section
    assert f"  {breakdown.ENGINE}" in text
    assert markdown.index("## Ratios") < markdown.index("## Where the time goes")


def test_a_report_without_a_breakdown_has_no_such_section() -> None:
    report = BenchReport("firewall bench", datetime(2026, 1, 2, tzinfo=UTC), 1, 1, 1.0, 0, 1)
    assert "Where the time goes" not in markdown_report(report)
    assert "where the time goes" not in text_report(report)
