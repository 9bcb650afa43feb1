"""Sessions in Redis: every worker sees every worker's calls; Redis trouble fails closed."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from firewall.config import parse_config
from firewall.errors import ConfigError, SessionStoreError
from firewall.factory import session_store
from firewall.session import SessionEvent
from firewall.session_redis import RedisSessionStore
from tests.containment.helpers import OwnRedis
from tests.session_workers import run_in_session, worker_config

pytestmark = pytest.mark.redis
TICKET = SessionEvent(tool="read_ticket", outcome="ok", labels=("untrusted",))
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test only, its keys deleted afterwards."""
    name = f"test-sessions-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def store(
    url: str, prefix: str, *, timeout_s: float = 0.5, recent_events: int = 5, idle_ttl_s: int = 60
) -> RedisSessionStore:
    return RedisSessionStore(
        url,
        key_prefix=prefix,
        timeout_s=timeout_s,
        recent_events=recent_events,
        idle_ttl_s=idle_ttl_s,
    )


def test_a_second_worker_sees_the_first_workers_taint_and_subjects(
    redis_url: str, prefix: str
) -> None:
    first, second = store(redis_url, prefix), store(redis_url, prefix)
    first.record("acme", "s1", TICKET)
    first.record("acme", "s1", SessionEvent(tool="crm_lookup", outcome="ok", subject="c-1"))
    view = second.policy_view("acme", "s1")
    assert view["sources"] == {"untrusted": ["read_ticket"]}
    assert view["subjects"] == {"crm_lookup": ["c-1"]}
    assert view["calls"] == 2
    assert second.policy_view("globex", "s1")["calls"] == 0
    first.close()
    second.close()


def test_concurrent_workers_lose_no_event(redis_url: str, prefix: str) -> None:
    stores = [store(redis_url, prefix) for _ in range(8)]

    def record_many(worker: RedisSessionStore) -> None:
        for _ in range(25):
            worker.record("acme", "busy", SessionEvent(tool="crm_lookup", outcome="ok"))

    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(record_many, stores))
    view = stores[0].policy_view("acme", "busy")
    assert view["calls"] == 200
    assert view["counts"] == {"crm_lookup": {"ok": 200}}
    for each in stores:
        each.close()


def test_a_session_expires_after_its_idle_time(redis_url: str, prefix: str) -> None:
    shared = store(redis_url, prefix, idle_ttl_s=120)
    shared.record("acme", "s1", TICKET)
    client = redis.Redis.from_url(redis_url)
    [key] = list(client.scan_iter(f"{prefix}:session:*"))
    assert 0 < client.ttl(key) <= 120
    client.close()
    shared.close()


def test_the_history_keeps_the_configured_number_of_latest_calls(
    redis_url: str, prefix: str
) -> None:
    shared = store(redis_url, prefix, recent_events=2)
    for tool in ("a", "b", "c"):
        shared.record("acme", "s1", SessionEvent(tool=tool, outcome="ok"))
    assert [event.tool for event in shared.history("acme", "s1")] == ["b", "c"]
    shared.close()


def test_an_unreachable_redis_fails_closed() -> None:
    dead = store(DEAD_REDIS, "unused")
    with pytest.raises(SessionStoreError, match="session store unavailable"):
        dead.policy_view("acme", "s1")
    with pytest.raises(SessionStoreError):
        dead.record("acme", "s1", TICKET)
    dead.close()


def test_an_event_redis_could_not_take_is_written_before_the_next_view(tmp_path: Path) -> None:
    own = OwnRedis(tmp_path)
    own.start()
    try:
        shared = store(own.url, "own", timeout_s=0.2)
        own.kill()
        with pytest.raises(SessionStoreError):
            shared.record("acme", "s1", TICKET)
        with pytest.raises(SessionStoreError):
            shared.policy_view("acme", "s1")  # the unwritten taint blocks the decision
        own.start()
        assert shared.policy_view("acme", "s1")["sources"] == {"untrusted": ["read_ticket"]}
        shared.close()
    finally:
        own.kill()


def test_a_redis_limits_url_shares_sessions_by_default(redis_url: str, prefix: str) -> None:
    shared = parse_config(
        {
            "storage": {"limits_url": redis_url},
            "limits": {"key_prefix": prefix},
            "tools": [{"name": "lookup", "scope": "crm:read"}],
        }
    )
    redis_sessions = session_store(shared)
    assert isinstance(redis_sessions, RedisSessionStore)
    redis_sessions.close()
    local = parse_config({"tools": [{"name": "lookup", "scope": "crm:read"}]})
    assert not isinstance(session_store(local), RedisSessionStore)


def test_a_sessions_url_that_is_neither_memory_nor_redis_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"storage": {"sessions_url": "sqlite:///x.db"}, "tools": [{"name": "a", "scope": "b"}]}
        )
    assert info.value.key == "storage.sessions_url"


def test_untrusted_content_read_in_one_process_holds_a_payment_in_another(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Two worker processes, one session: the taint crosses from one to the other."""
    spawn = multiprocessing.get_context("spawn")
    reader = worker_config(str(tmp_path), redis_url, prefix, "reader")
    payer = worker_config(str(tmp_path), redis_url, prefix, "payer")
    with spawn.Pool(1) as pool:
        assert pool.apply(run_in_session, (reader, "read_ticket", "shared")) == "ran"
    with spawn.Pool(1) as pool:
        assert pool.apply(run_in_session, (payer, "pay", "clean")) == "ran"
        refused = pool.apply(run_in_session, (payer, "pay", "shared"))
    assert refused == "deny: tainted by read_ticket"


def test_a_stored_session_that_does_not_parse_fails_closed(redis_url: str, prefix: str) -> None:
    shared = store(redis_url, prefix)
    shared.record("acme", "s1", TICKET)
    client = redis.Redis.from_url(redis_url)
    [key] = list(client.scan_iter(f"{prefix}:session:*"))
    client.set(key, "{not json")
    client.close()
    with pytest.raises(SessionStoreError, match="unreadable"):
        shared.policy_view("acme", "s1")
    shared.close()
