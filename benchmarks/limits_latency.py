"""Latency of the shared-state checks: memory next to Redis, measured in one run.

    python benchmarks/limits_latency.py [--calls 5000] [--redis redis://127.0.0.1:6379/0]

Per check, memory and Redis calls alternate so both see the same machine noise:
the rate-limit check (one moving-window rule), the budget check (one Lua round trip),
and the freeze check (a cached list: Redis is read at most every 0.5 s). Last, how long
a freeze takes to reach another reader of the same Redis (its cache is 0.5 s).
Keys live under a random prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

import redis
from limits.storage import storage_from_string

from firewall.containment.budgets import BudgetLedger, MemoryBudgetLedger
from firewall.containment.budgets_redis import RedisBudgetLedger
from firewall.containment.freeze import CachedFreezes, FreezeEntry, FreezeStore, MemoryFreezeStore
from firewall.containment.freeze_stores import RedisFreezeStore
from firewall.containment.settings import BudgetRule, LimitSettings
from firewall.containment.stores import limits_options
from firewall.registry import ToolRegistry
from firewall.stages.base import CallContext, Stage
from firewall.stages.budgets import BudgetCheck
from firewall.stages.freeze import FreezeCheck
from firewall.stages.limits import RateLimitCheck, RateLimitRule
from firewall.types import Principal, Risk, ToolCall, ToolSpec

LOOKUP = ToolSpec(name="crm_lookup", scope="crm:read")
REFUND = ToolSpec(name="issue_refund", scope="refunds:write", risk=Risk.HIGH, money_arg="amount")
AGENT = Principal(agent_id="bench", tenant="acme", on_behalf_of="customer:c-1")
HUGE = BudgetRule(tool="issue_refund", amount=Decimal(10**9), window="1 hour")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(stage: Stage, spec: ToolSpec, args: dict[str, object]) -> float:
    call = ToolCall(tool=spec.name, args=args, principal=AGENT, session_id="bench")
    ctx = CallContext(call=call, spec=spec)
    start = time.perf_counter_ns()
    if stage.check(ctx) is not None:
        raise RuntimeError(f"{stage.name} refused a benchmark call")
    return (time.perf_counter_ns() - start) / 1000


def rate_limit_checks(url: str, prefix: str) -> tuple[Stage, Stage]:
    rule = [RateLimitRule(limit="1000000/hour")]
    shared = storage_from_string(url, **limits_options(url, prefix, 0.5))
    return RateLimitCheck(rule), RateLimitCheck(rule, url, storage=shared)


def budget_checks(url: str, prefix: str) -> tuple[Stage, Stage]:
    ledgers: tuple[BudgetLedger, BudgetLedger] = (
        MemoryBudgetLedger(),
        RedisBudgetLedger(url, LimitSettings(key_prefix=prefix)),
    )
    return BudgetCheck([HUGE], ledgers[0]), BudgetCheck([HUGE], ledgers[1])


def freeze_checks(url: str, prefix: str) -> tuple[Stage, Stage]:
    stores: tuple[FreezeStore, FreezeStore] = (
        MemoryFreezeStore(),
        RedisFreezeStore(url, LimitSettings(key_prefix=prefix)),
    )
    tools = ToolRegistry([LOOKUP])
    return FreezeCheck(CachedFreezes(stores[0]), tools), FreezeCheck(
        CachedFreezes(stores[1]), tools
    )


def compare(name: str, pair: tuple[Stage, Stage], spec: ToolSpec, calls: int) -> None:
    memory, shared = pair
    samples: dict[str, list[float]] = {"memory": [], "redis": []}
    for n in range(calls + 100):
        args = {"order_id": "o-1", "amount": 1} if spec is REFUND else {"customer_id": "c"}
        pair_samples = (timed(memory, spec, args), timed(shared, spec, args))
        if n >= 100:  # warm-up
            samples["memory"].append(pair_samples[0])
            samples["redis"].append(pair_samples[1])
    for backend, values in samples.items():
        print(
            f"{name:12} {backend:7} {statistics.median(values):9.1f}"
            f" {percentile(values, 0.99):9.1f}"
        )


def freeze_propagation(url: str, prefix: str, trials: int) -> list[float]:
    """Seconds from a freeze in one client until another client's check refuses."""
    settings = LimitSettings(key_prefix=prefix)
    writer = CachedFreezes(RedisFreezeStore(url, settings))
    reader = FreezeCheck(
        CachedFreezes(RedisFreezeStore(url, settings), settings.freeze_cache_s),
        ToolRegistry([LOOKUP]),
    )
    delays = []
    for trial in range(trials):
        time.sleep(0.1 + 0.037 * trial)  # land at different points of the reader's cache
        writer.freeze(FreezeEntry(target="agent:bench", reason="bench", by="bench"))
        frozen_at = time.perf_counter()
        while _passes(reader):
            time.sleep(0.001)
        delays.append(time.perf_counter() - frozen_at)
        writer.unfreeze("agent:bench")
        while not _passes(reader):
            time.sleep(0.001)
    return delays


def _passes(check: Stage) -> bool:
    ctx = CallContext(
        call=ToolCall(tool="crm_lookup", args={}, principal=AGENT, session_id="bench")
    )
    return check.check(ctx) is None


def run(calls: int, url: str) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    suites: list[tuple[str, Callable[[str, str], tuple[Stage, Stage]], ToolSpec]] = [
        ("rate limit", rate_limit_checks, LOOKUP),
        ("budget", budget_checks, REFUND),
        ("freeze", freeze_checks, LOOKUP),
    ]
    try:
        print(f"{'check':12} {'store':7} {'p50 µs':>9} {'p99 µs':>9}  ({calls} calls each)")
        for name, build, spec in suites:
            compare(name, build(url, prefix), spec, calls)
        delays = freeze_propagation(url, prefix, 20)
        print(
            f"freeze reaches another reader: median {statistics.median(delays) * 1000:.0f} ms,"
            f" max {max(delays) * 1000:.0f} ms ({len(delays)} trials, cache 0.5 s)"
        )
    finally:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    options = parser.parse_args()
    thread = threading.Thread(target=run, args=(options.calls, options.redis))
    thread.start()
    thread.join()


if __name__ == "__main__":
    main()
