"""The guarded variants really use the stores and engines they are named after."""

from __future__ import annotations

import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from firewall.bench import guarded, services
from firewall.policy.embedded import RegoEngine
from firewall.policy.opa_server import OpaServerEngine
from tests.bench.helpers import audited


def bench_schemas(postgres_url: str) -> set[str]:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT nspname FROM pg_namespace"))
            return {row[0] for row in rows if row[0].startswith("bench_")}
    finally:
        engine.dispose()


def prefixed_keys(redis_url: str, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return list(client.scan_iter(match=f"{prefix}*"))
    finally:
        client.close()


def test_bare_call_is_the_tool_itself() -> None:
    with guarded.bare() as call:
        assert call() == guarded.lookup()


def test_embedded_variant_runs_the_tool_and_audits_it_on_sqlite() -> None:
    with guarded.embedded_firewall() as firewall:
        assert guarded.guarded_call(firewall)() == guarded.lookup()
        assert isinstance(firewall.policy, RegoEngine)
        assert firewall.containment.storage_url == "memory://"
        assert audited(firewall.audit) == [
            ("decision", "crm_lookup", "allow"),
            ("outcome", "crm_lookup", "ok"),
        ]


@pytest.mark.postgres
@pytest.mark.redis
def test_postgres_redis_variant_keeps_state_there_and_leaves_nothing_behind(
    postgres_url: str, redis_url: str
) -> None:
    before = bench_schemas(postgres_url)
    pg, rd = services.postgres(postgres_url), services.redis_service(redis_url)
    with guarded.postgres_redis_firewall(pg, rd) as firewall:
        guarded.guarded_call(firewall)()
        prefix = firewall.containment.settings.key_prefix
        assert firewall.containment.storage_url == redis_url
        assert prefixed_keys(redis_url, prefix), "no rate-limit state in Redis"
        assert len(bench_schemas(postgres_url) - before) == 1
        assert audited(firewall.audit) == [
            ("decision", "crm_lookup", "allow"),
            ("outcome", "crm_lookup", "ok"),
        ]
    assert bench_schemas(postgres_url) - before == set()
    assert prefixed_keys(redis_url, prefix) == []


def test_opa_variant_asks_a_server_in_another_process_and_stops_it() -> None:
    with guarded.opa_firewall() as firewall:
        assert isinstance(firewall.policy, OpaServerEngine)
        assert guarded.guarded_call(firewall)() == guarded.lookup()
        health = f"{firewall.policy.base_url}/health"
        assert requests.get(health, timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(health, timeout=5)


def test_unreachable_service_is_a_skip_naming_it() -> None:
    away = services.Service("Redis", "redis://127.0.0.1:1/0", "Connection refused")
    with pytest.raises(services.BenchSkip, match=r"Redis unreachable at redis://127\.0\.0\.1:1/0"):
        away.require()
