"""Latency samples and their summary: median, p99, calls per second."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CallFn = Callable[[], object]


def timed_us(call: CallFn) -> float:
    """Microseconds one call of ``call`` takes."""
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1000


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of ``samples``."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(len(ordered), rank) - 1]


@dataclass(frozen=True)
class Latency:
    """What one scenario's calls took."""

    count: int
    median_us: float
    p99_us: float
    calls_per_s: float

    @classmethod
    def of(cls, samples_us: Sequence[float]) -> Latency:
        """The summary of ``samples_us`` (at least one sample)."""
        if not samples_us:
            raise ValueError("no samples")
        total_s = sum(samples_us) / 1e6
        return cls(
            count=len(samples_us),
            median_us=statistics.median(samples_us),
            p99_us=percentile(samples_us, 0.99),
            calls_per_s=len(samples_us) / total_s if total_s > 0 else float("inf"),
        )


@dataclass(frozen=True)
class Throughput:
    """``count`` units (appends, records) done in ``seconds``."""

    label: str
    unit: str
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Units per second."""
        return self.count / self.seconds if self.seconds > 0 else float("inf")
