"""What a benchmark run found, and the ratios people ask about."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from firewall.bench.scenarios import (
    AGENT_FIREWALL,
    AGENT_LANGCHAIN,
    AGENT_PLAIN,
    EMBEDDED,
    EMBEDDED_NO_FSYNC,
    OPA,
    POSTGRES_REDIS,
)
from firewall.bench.stats import Latency, Throughput

TARGET_ADDED_US = 250
"""What an allowed guarded call on embedded defaults may add over the bare call (median)."""
TARGET_MIDDLEWARE_SHARE = 0.15
"""What FirewallMiddleware may add to a create_agent tool step, as a share of the step."""


@dataclass(frozen=True)
class HeapUse:
    """Python heap (tracemalloc) a scenario holds once set up, and its peak above that."""

    setup_kib: float
    calls_peak_kib: float
    calls: int
    """How many calls the peak was taken over."""


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's latency and heap use, or why it was skipped."""

    key: str
    label: str
    floor: str | None = None
    latency: Latency | None = None
    heap: HeapUse | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class LoadResult:
    """One audit throughput measurement, or why it was skipped."""

    label: str
    throughput: Throughput | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class Ratio:
    """``numerator``'s median over ``denominator``'s, and the microseconds between them."""

    text: str
    ratio: float
    added_us: float


@dataclass(frozen=True)
class MiddlewareCost:
    """Median µs each middleware adds to one agent tool step."""

    firewall_us: float
    langchain_us: float

    @property
    def ratio(self) -> float | None:
        """The firewall's added cost over LangChain's; None if LangChain's is not measurable."""
        return self.firewall_us / self.langchain_us if self.langchain_us > 0 else None


@dataclass(frozen=True)
class Phase:
    """One part of a guarded call: its median µs per call and share of the median call."""

    label: str
    median_us: float
    share: float | None
    """Of the median call; None when the call's median is not measurable."""
    nested: bool = False
    """Part of the phase listed above it, not a phase of its own."""


@dataclass
class BenchReport:
    """Everything one ``firewall bench`` run measured."""

    command: str
    started_at: datetime
    calls: int
    requested_calls: int
    latency_budget_s: float
    warmup: int
    memory_calls: int
    machine: dict[str, str] = field(default_factory=dict)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    audit: list[LoadResult] = field(default_factory=list)
    breakdown: list[Phase] = field(default_factory=list)
    """Where the time of one embedded guarded call goes (a separate, instrumented pass)."""
    breakdown_calls: int = 0
    seconds: float = 0.0

    def calls_text(self) -> str:
        """``N calls``, saying so when the time budget cut the rounds short."""
        if self.calls < self.requested_calls:
            return f"{self.calls} calls (of {self.requested_calls} asked: time budget reached)"
        return f"{self.calls} calls"

    def latency(self, key: str) -> Latency | None:
        """The latency of scenario ``key``, if it ran."""
        for result in self.scenarios:
            if result.key == key:
                return result.latency
        return None

    def label(self, key: str) -> str:
        """The label of scenario ``key``."""
        return next((result.label for result in self.scenarios if result.key == key), key)

    def floor_ratio(self, result: ScenarioResult) -> Ratio | None:
        """``result`` against its floor (the bare call, or the agent without middleware)."""
        if result.floor is None:
            return None
        return self._ratio(result.key, result.floor, f"{result.label} / {self.label(result.floor)}")

    def floor_ratio_of(self, key: str) -> Ratio | None:
        """Scenario ``key`` against its floor, if both ran."""
        found = next((result for result in self.scenarios if result.key == key), None)
        return self.floor_ratio(found) if found is not None else None

    def middleware_share(self) -> float | None:
        """What FirewallMiddleware adds to an agent tool step, over the step without it."""
        plain, ours = self.latency(AGENT_PLAIN), self.latency(AGENT_FIREWALL)
        if plain is None or ours is None or plain.median_us <= 0:
            return None
        return (ours.median_us - plain.median_us) / plain.median_us

    def ratios(self) -> list[Ratio]:
        """The comparisons beyond each floor: stores, engines, and LangChain's middleware."""
        found = [
            self._ratio(key, EMBEDDED, f"{self.label(key)} / embedded defaults")
            for key in (EMBEDDED_NO_FSYNC, POSTGRES_REDIS, OPA)
        ]
        found.append(
            self._ratio(
                AGENT_FIREWALL, AGENT_LANGCHAIN, "agent step: FirewallMiddleware / LangChain's"
            )
        )
        return [ratio for ratio in found if ratio is not None]

    def middleware_added(self) -> MiddlewareCost | None:
        """Per tool step: what each middleware adds over the agent without middleware."""
        plain, ours, theirs = (
            self.latency(key) for key in (AGENT_PLAIN, AGENT_FIREWALL, AGENT_LANGCHAIN)
        )
        if plain is None or ours is None or theirs is None:
            return None
        return MiddlewareCost(
            firewall_us=ours.median_us - plain.median_us,
            langchain_us=theirs.median_us - plain.median_us,
        )

    def _ratio(self, numerator: str, denominator: str, text: str) -> Ratio | None:
        top, bottom = self.latency(numerator), self.latency(denominator)
        if top is None or bottom is None or bottom.median_us <= 0:
            return None
        return Ratio(text, top.median_us / bottom.median_us, top.median_us - bottom.median_us)
