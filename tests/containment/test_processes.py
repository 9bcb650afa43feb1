"""Four processes against the real local Redis: one budget, one rate limit, one freeze."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.pool import Pool

import pytest
import redis

from firewall.containment.freeze import CachedFreezes, FreezeEntry
from firewall.containment.freeze_stores import RedisFreezeStore
from firewall.containment.settings import LimitSettings
from tests.containment.workers import hit_rate_limit, spend_budget, watch_for_freeze

pytestmark = [pytest.mark.redis, pytest.mark.slow]
WORKERS = 4


def _pool() -> Pool:
    return multiprocessing.get_context("spawn").Pool(WORKERS)


def test_four_processes_never_overrun_one_budget(shared_redis: str, prefix: str) -> None:
    """800 refunds of $7 race for $2,000: exactly 285 ($1,995) get through, no more."""
    args = [(shared_redis, prefix, worker, 200, 7.0, WORKERS) for worker in range(WORKERS)]
    with _pool() as pool:
        admitted = pool.starmap(spend_budget, args)
    assert sum(admitted) == pytest.approx(1995.0)


def test_four_processes_share_one_rate_limit_exactly(shared_redis: str, prefix: str) -> None:
    """120 calls from four processes against 50/hour: exactly 50 pass."""
    with _pool() as pool:
        passed = pool.starmap(hit_rate_limit, [(shared_redis, prefix, 30, WORKERS)] * WORKERS)
    assert sum(passed) == 50


def test_a_freeze_in_one_process_stops_the_others(shared_redis: str, prefix: str) -> None:
    """Workers run calls until a freeze issued here refuses them; every worker stops."""
    client = redis.Redis.from_url(shared_redis)
    with _pool() as pool:
        pending = pool.starmap_async(watch_for_freeze, [(shared_redis, prefix, 20.0)] * WORKERS)
        while int(client.get(f"{prefix}:ready") or 0) < WORKERS:
            time.sleep(0.05)
        time.sleep(0.3)
        store = CachedFreezes(RedisFreezeStore(shared_redis, LimitSettings(key_prefix=prefix)))
        store.freeze(FreezeEntry(target="agent:bot-1", reason="runaway refunds", by="ops"))
        results = pending.get(timeout=60)
    assert all(admitted > 0 for admitted, _ in results)
    assert all(refused_at is not None for _, refused_at in results)
