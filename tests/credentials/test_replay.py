"""Replay caches (memory and Redis): a token id is accepted once within its lifetime."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from freezegun import freeze_time

from firewall.credentials.replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from tests.containment.helpers import delete_prefix


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[ReplayCache]:
    """An empty replay cache on each backend."""
    if request.param == "memory":
        yield MemoryReplayCache()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix = f"fwtest{uuid.uuid4().hex[:12]}"
    made = RedisReplayCache(url, prefix=f"{prefix}:jti")
    yield made
    made.close()
    delete_prefix(url, prefix)


def test_first_use_is_accepted_and_the_second_refused(cache: ReplayCache) -> None:
    assert cache.first_use("cap_1", 60) is True
    assert cache.first_use("cap_1", 60) is False
    assert cache.first_use("cap_2", 60) is True


def test_redis_cache_forgets_ids_after_their_lifetime(cache: ReplayCache) -> None:
    if isinstance(cache, MemoryReplayCache):
        return
    redis_cache: RedisReplayCache = cache  # type: ignore[assignment]
    redis_cache.first_use("cap_ttl", 30)
    assert 0 < redis_cache._client.ttl(f"{redis_cache._prefix}:cap_ttl") <= 30


def test_memory_cache_forgets_ids_after_their_lifetime() -> None:
    cache = MemoryReplayCache()
    with freeze_time("2026-01-01 00:00:00") as clock:
        cache.first_use("cap_1", 60)
        clock.tick(61)
        assert cache.first_use("cap_1", 60) is True
