"""What a session store costs per guarded call: one policy view and two recorded events.

    python benchmarks/session_store.py [--redis URL] [--calls 2000]

The in-memory store next to the Redis one (shared by worker processes), alternating in
rounds so both see the same machine noise. The Redis keys go under a fresh prefix and are
deleted afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import redis

from firewall.session import MemorySessionStore, SessionEvent, SessionStore
from firewall.session_redis import RedisSessionStore

DECIDED = SessionEvent(tool="crm_lookup", outcome="allow", subject="c-100")
RAN = SessionEvent(tool="crm_lookup", outcome="ok", subject="c-100")


def one_call(store: SessionStore) -> float:
    """µs for what the gate asks of the store per allowed call."""
    started = time.perf_counter()
    store.policy_view("acme", "s1")
    store.record("acme", "s1", DECIDED)
    store.record("acme", "s1", RAN)
    return (time.perf_counter() - started) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args()
    prefix = f"bench-sessions-{uuid.uuid4().hex[:8]}"
    stores: dict[str, SessionStore] = {
        "memory": MemorySessionStore(),
        "redis": RedisSessionStore(options.redis, key_prefix=prefix),
    }
    samples: dict[str, list[float]] = {name: [] for name in stores}
    try:
        for _ in range(options.calls):
            for name, store in stores.items():
                samples[name].append(one_call(store))
    finally:
        client = redis.Redis.from_url(options.redis)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()
    for name, values in samples.items():
        print(f"{name:7} view + 2 records: median {statistics.median(values):8.1f} µs")


if __name__ == "__main__":
    main()
