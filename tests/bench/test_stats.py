"""Latency summaries: nearest-rank percentiles, medians and calls per second."""

from __future__ import annotations

import pytest

from firewall.bench.stats import Latency, Throughput, percentile


def test_p99_of_a_hundred_samples_is_the_99th_smallest() -> None:
    samples = [float(n) for n in range(100, 0, -1)]
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 1.0) == 100.0


def test_percentile_of_few_samples_is_an_actual_sample() -> None:
    assert percentile([5.0, 1.0, 3.0], 0.99) == 5.0
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0


def test_latency_reports_median_p99_and_calls_per_second() -> None:
    latency = Latency.of([1000.0, 2000.0, 3000.0, 4000.0])  # 10 ms in all
    assert latency.count == 4
    assert latency.median_us == 2500.0
    assert latency.p99_us == 4000.0
    assert latency.calls_per_s == pytest.approx(400.0)


def test_latency_of_no_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="no samples"):
        Latency.of([])


def test_throughput_per_second() -> None:
    assert Throughput("x", "appends", 500, 2.0).per_second == 250.0
