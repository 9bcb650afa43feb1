"""Where the time of one allowed guarded call goes: each stage, the Rego engine, the audit.

A separate pass over one embedded firewall. Timing wrappers shadow the methods of that
one firewall, its stages and its engine as instance attributes, and are removed
afterwards; no class or module is patched.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from firewall.bench.guarded import embedded_firewall, guarded_call
from firewall.bench.results import Phase
from firewall.bench.stats import timed_us
from firewall.gate import Firewall
from firewall.stages.policy import PolicyCheck

MAX_CALLS = 1000
BUDGET_S = 15.0
ENGINE = "of which: Rego engine (input + evaluation)"
DECISION_RECORD = "audit: decision record (durable before the tool runs)"
SESSION = "session summary (after the decision and the outcome)"
CREDENTIAL = "credential hand-over (last freeze look, vault)"
OUTCOME_RECORD = "audit: outcome record (queued for a background commit)"
OTHER = "other (gate bookkeeping)"
TOTAL = "total: one guarded call (Firewall.run)"

Method = Callable[..., Any]


@dataclass(frozen=True)
class Probe:
    """Time ``owner.attribute`` as ``label``; a nested probe is part of the phase above it."""

    label: str
    owner: object
    attribute: str
    nested: bool = False


@dataclass(frozen=True)
class Breakdown:
    """The phases of the median call, over ``calls`` measured calls."""

    phases: list[Phase]
    calls: int


class PhaseClock:
    """Nanoseconds spent per phase since the last :meth:`reset`.

    A phase excludes the time of the other (not nested) phases it calls, so those add
    up without counting anything twice: the outcome record, for one, updates the
    session summary, which is a phase of its own. A nested phase stays inside its parent.
    """

    def __init__(self, now: Callable[[], int] = time.perf_counter_ns) -> None:
        self.spent: dict[str, int] = {}
        self._now = now
        self._inner: list[int] = []  # per open phase: time of the phases it called

    def reset(self) -> None:
        """Start a new call."""
        self.spent.clear()

    def wrapper(self, label: str, *, nested: bool = False) -> Callable[[Method], Method]:
        """Wraps a method so that its time goes to ``label``."""

        def wrap(method: Method) -> Method:
            def timed(*args: Any, **kwargs: Any) -> Any:
                if not nested:
                    self._inner.append(0)
                start = self._now()
                try:
                    return method(*args, **kwargs)
                finally:
                    self._stop(label, self._now() - start, nested=nested)

            return timed

        return wrap

    def _stop(self, label: str, elapsed: int, *, nested: bool) -> None:
        own = elapsed if nested else elapsed - self._inner.pop()
        self.spent[label] = self.spent.get(label, 0) + own
        if not nested and self._inner:
            self._inner[-1] += elapsed


@contextlib.contextmanager
def shadowed(owner: object, attribute: str, wrap: Callable[[Method], Method]) -> Iterator[None]:
    """``owner.attribute``, on this one object only, replaced by ``wrap`` of it; then restored."""
    own = vars(owner)
    had_own, previous = attribute in own, own.get(attribute)
    setattr(owner, attribute, wrap(getattr(owner, attribute)))
    try:
        yield
    finally:
        if had_own:
            setattr(owner, attribute, previous)
        else:
            delattr(owner, attribute)


@contextlib.contextmanager
def timing(probes: Sequence[Probe], clock: PhaseClock) -> Iterator[None]:
    """Every probe's wrapper installed while inside."""
    with contextlib.ExitStack() as stack:
        for probe in probes:
            wrap = clock.wrapper(probe.label, nested=probe.nested)
            stack.enter_context(shadowed(probe.owner, probe.attribute, wrap))
        yield


def probes(firewall: Firewall) -> list[Probe]:
    """The phases of an allowed call through ``firewall``, in the order they run."""
    found: list[Probe] = []
    for stage in firewall.stages:
        found.append(Probe(f"check: {stage.name}", stage, "check"))
        if stage.name == PolicyCheck.name:
            found.append(Probe(ENGINE, firewall.policy, "evaluate", nested=True))
    return [
        *found,
        Probe(DECISION_RECORD, firewall, "_refusal_if_unaudited"),
        Probe(SESSION, firewall, "_remember"),
        Probe(CREDENTIAL, firewall, "_before_run"),
        Probe(OUTCOME_RECORD, firewall, "_audit_outcome"),
    ]


def where_the_time_goes(
    firewall: Firewall, calls: int, warmup: int, budget_s: float = BUDGET_S
) -> Breakdown:
    """Median per phase over up to ``calls`` (at most 1000) allowed calls through ``firewall``.

    Stops after ``budget_s`` seconds once one call is measured.
    """
    clock, found, call = PhaseClock(), probes(firewall), guarded_call(firewall)
    samples: dict[str, list[float]] = {probe.label: [] for probe in found}
    totals: list[float] = []
    with timing(found, clock):
        for _ in range(warmup):
            call()
        deadline = time.perf_counter() + budget_s
        while len(totals) < min(calls, MAX_CALLS) and (
            not totals or time.perf_counter() < deadline
        ):
            clock.reset()
            totals.append(timed_us(call))
            for label, each in samples.items():
                each.append(clock.spent.get(label, 0) / 1000)
    nested = {probe.label: probe.nested for probe in found}
    return Breakdown(summary(samples, nested, totals), len(totals))


def embedded_breakdown(calls: int, warmup: int, budget_s: float = BUDGET_S) -> Breakdown:
    """:func:`where_the_time_goes` on a fresh firewall with embedded defaults."""
    with embedded_firewall() as firewall:
        return where_the_time_goes(firewall, calls, warmup, budget_s)


def summary(
    samples: Mapping[str, Sequence[float]], nested: Mapping[str, bool], totals: Sequence[float]
) -> list[Phase]:
    """One row per phase, then the time between the phases (if any) and the whole call."""
    total = statistics.median(totals)
    rows = [
        _phase(label, statistics.median(each), total, nested=nested[label])
        for label, each in samples.items()
    ]
    other = total - sum(row.median_us for row in rows if not row.nested)
    if other > 0:
        rows.append(_phase(OTHER, other, total))
    return [*rows, _phase(TOTAL, total, total)]


def _phase(label: str, median_us: float, total_us: float, *, nested: bool = False) -> Phase:
    share = median_us / total_us if total_us > 0 else None
    return Phase(label, median_us, share, nested)
