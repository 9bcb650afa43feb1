"""Interleaved rounds, skips and the tracemalloc pass, on stand-in scenarios."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from firewall.bench import guarded
from firewall.bench.memory import heap_use
from firewall.bench.runner import interleaved
from firewall.bench.scenarios import POSTGRES_REDIS, Scenario
from firewall.bench.services import BenchSkip, Service
from firewall.bench.stats import CallFn

AWAY_POSTGRES = Service("PostgreSQL", "postgresql+psycopg://x@127.0.0.1:1/x", "refused")
AWAY_REDIS = Service("Redis", "redis://127.0.0.1:1/0", "refused")


def recording(name: str, calls: list[str]) -> Scenario:
    @contextlib.contextmanager
    def open_() -> Iterator[CallFn]:
        yield lambda: calls.append(name)

    return Scenario(name, name, open_)


def unavailable(reason: str) -> Scenario:
    @contextlib.contextmanager
    def open_() -> Iterator[CallFn]:
        raise BenchSkip(reason)
        yield lambda: None  # pragma: no cover

    return Scenario("away", "away", open_)


def test_rounds_call_every_scenario_once_in_varying_orders() -> None:
    calls: list[str] = []
    every = [recording(name, calls) for name in "abcd"]
    measured = interleaved(every, calls=20, warmup=0)
    rounds = [calls[start : start + 4] for start in range(0, len(calls), 4)]
    assert measured.rounds == len(rounds) == 20
    assert all(sorted(each) == ["a", "b", "c", "d"] for each in rounds)
    followers_of_a = {each[each.index("a") + 1] for each in rounds if each[-1] != "a"}
    assert len(followers_of_a) == 3, "'a' is always followed by the same scenario"
    assert {key: len(samples) for key, samples in measured.samples.items()} == dict.fromkeys(
        "abcd", 20
    )


def test_warmup_calls_are_made_but_not_measured() -> None:
    calls: list[str] = []
    measured = interleaved([recording("a", calls)], calls=2, warmup=5)
    assert len(calls) == 7
    assert len(measured.samples["a"]) == 2


def test_a_scenario_that_cannot_run_is_skipped_with_its_reason() -> None:
    calls: list[str] = []
    measured = interleaved([recording("a", calls), unavailable("no server")], 2, 0)
    assert measured.skipped == {"away": "no server"}
    assert len(measured.samples["a"]) == 2


def test_rounds_stop_at_the_time_budget_after_at_least_one() -> None:
    calls: list[str] = []
    measured = interleaved([recording("a", calls)], calls=1000, warmup=0, budget_s=0.0)
    assert measured.rounds == 1


def test_unreachable_postgres_skips_the_postgres_redis_scenario() -> None:
    scenario = Scenario(
        POSTGRES_REDIS, "pg", lambda: guarded.postgres_redis(AWAY_POSTGRES, AWAY_REDIS)
    )
    measured = interleaved([scenario], calls=1, warmup=0)
    assert measured.skipped[POSTGRES_REDIS].startswith("PostgreSQL unreachable at")


def test_heap_use_separates_what_setup_holds_from_the_peak_of_calls() -> None:
    @contextlib.contextmanager
    def open_() -> Iterator[CallFn]:
        held = bytearray(512 * 1024)
        yield lambda: len(bytearray(2 * 1024 * 1024)) + len(held)

    heap = heap_use(open_, calls=3)
    assert heap.setup_kib >= 512
    assert heap.calls_peak_kib >= 2048
    assert heap.calls == 3
