"""One benchmark run: latency (interleaved), heap use, audit throughput."""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from firewall.bench import services
from firewall.bench.audit_runs import AuditLoad, audit_loads
from firewall.bench.breakdown import BUDGET_S, MAX_CALLS, embedded_breakdown
from firewall.bench.machine import machine_info
from firewall.bench.memory import heap_use
from firewall.bench.results import BenchReport, ScenarioResult
from firewall.bench.scenarios import Scenario, scenarios
from firewall.bench.services import BenchSkip
from firewall.bench.stats import CallFn, Latency, timed_us

Progress = Callable[[str], None]
WARMUP_CALLS = 100  # a long session: the policy sees its summary and latest calls in full
ORDER_SEED = 7
QUICK_AUDIT = AuditLoad(calls=10, writers=2, writer_calls=3, verify_records=200)


@dataclass(frozen=True)
class BenchOptions:
    """How much to measure, and against which services."""

    calls: int = 2000
    latency_budget_s: float = 120.0
    """The interleaved rounds stop early when they have taken this long (a busy machine)."""
    memory_calls: int = 100
    memory_budget_s: float = 6.0
    """Per scenario, for the tracemalloc pass."""
    warmup: int = WARMUP_CALLS
    breakdown_calls: int = MAX_CALLS
    breakdown_budget_s: float = BUDGET_S
    """For the instrumented pass that splits one embedded guarded call into its phases."""
    audit: AuditLoad = field(default_factory=AuditLoad)
    postgres_url: str | None = None
    redis_url: str | None = None
    command: str = "firewall bench"

    @classmethod
    def chosen(
        cls,
        *,
        quick: bool = False,
        calls: int | None = None,
        postgres_url: str | None = None,
        redis_url: str | None = None,
        command: str = "firewall bench",
    ) -> BenchOptions:
        """The defaults, or with ``quick`` tiny counts (does everything run, not how fast)."""
        base = (
            cls(calls=30, memory_calls=5, warmup=5, breakdown_calls=10, audit=QUICK_AUDIT)
            if quick
            else cls()
        )
        return replace(
            base,
            calls=calls or base.calls,
            postgres_url=postgres_url,
            redis_url=redis_url,
            command=command,
        )


def run(options: BenchOptions, progress: Progress = lambda _message: None) -> BenchReport:
    """Measure every scenario and the audit log; a scenario whose service is away is skipped."""
    started, started_at = time.perf_counter(), datetime.now(UTC)
    postgres = services.postgres(options.postgres_url)
    redis = services.redis_service(options.redis_url)
    machine = machine_info(postgres, redis)
    every = scenarios(postgres, redis)
    progress(f"latency: {len(every)} scenarios x {options.calls} calls, interleaved")
    measured = interleaved(every, options.calls, options.warmup, options.latency_budget_s)
    progress(f"heap use: {options.memory_calls} calls per scenario, one at a time (tracemalloc)")
    report = BenchReport(
        command=options.command,
        started_at=started_at,
        calls=measured.rounds,
        requested_calls=options.calls,
        latency_budget_s=options.latency_budget_s,
        warmup=options.warmup,
        memory_calls=options.memory_calls,
        machine=machine,
        scenarios=[_result(scenario, measured, options) for scenario in every],
    )
    progress(f"where the time goes: embedded guarded call, {options.breakdown_calls} calls")
    split = embedded_breakdown(options.breakdown_calls, options.warmup, options.breakdown_budget_s)
    report.breakdown, report.breakdown_calls = split.phases, split.calls
    report.audit = audit_loads(options.audit, postgres, progress)
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class Measured:
    """Latency samples (µs) per scenario that ran, and why the others did not."""

    samples: dict[str, list[float]]
    skipped: dict[str, str]
    rounds: int


def interleaved(
    every: Sequence[Scenario], calls: int, warmup: int, budget_s: float = math.inf
) -> Measured:
    """Up to ``calls`` rounds of one call of every scenario that can run.

    Each round runs the scenarios in a fresh random order (seeded: runs are repeatable),
    so none always follows the same one, whose after-effects (a server process still
    busy, garbage to collect) would otherwise always land on it; all of them see the
    same machine noise. Rounds stop after ``budget_s`` seconds.
    """
    with contextlib.ExitStack() as stack:
        callers: dict[str, CallFn] = {}
        skipped: dict[str, str] = {}
        for scenario in every:
            try:
                callers[scenario.key] = stack.enter_context(scenario.open())
            except BenchSkip as skip:
                skipped[scenario.key] = str(skip)
        for call in callers.values():
            for _ in range(warmup):
                call()
        order = list(callers)
        samples: dict[str, list[float]] = {key: [] for key in order}
        shuffler = random.Random(ORDER_SEED)  # noqa: S311 - an order, not a secret
        deadline = time.perf_counter() + budget_s
        rounds = 0
        while order and rounds < calls and (rounds == 0 or time.perf_counter() < deadline):
            shuffler.shuffle(order)
            for key in order:
                samples[key].append(timed_us(callers[key]))
            rounds += 1
    return Measured(samples, skipped, rounds)


def _result(scenario: Scenario, measured: Measured, options: BenchOptions) -> ScenarioResult:
    base = ScenarioResult(scenario.key, scenario.label, scenario.floor)
    if scenario.key in measured.skipped:
        return replace(base, skipped=measured.skipped[scenario.key])
    try:
        heap = heap_use(scenario.open, options.memory_calls, options.memory_budget_s)
    except BenchSkip as skip:  # the service went away between the passes
        return replace(base, skipped=str(skip))
    return replace(base, latency=Latency.of(measured.samples[scenario.key]), heap=heap)
