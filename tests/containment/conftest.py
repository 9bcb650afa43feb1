"""Shared-state backends for containment tests: memory, SQL and the real local Redis.

Every Redis test uses its own key prefix, deleted afterwards, so tests never see each
other's counters and the shared Redis is left as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from firewall.containment.budgets import BudgetLedger, MemoryBudgetLedger
from firewall.containment.budgets_redis import RedisBudgetLedger
from firewall.containment.freeze import FreezeStore, MemoryFreezeStore
from firewall.containment.freeze_stores import RedisFreezeStore, SqlFreezeStore
from firewall.containment.settings import LimitSettings
from tests.containment.helpers import closing, delete_prefix
from tests.services import fresh_schema

LEDGERS = [pytest.param("memory", id="memory"), pytest.param("redis", id="redis")]
FREEZE_STORES = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres"),
    pytest.param("redis", id="redis"),
]


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test only."""
    return f"fwtest{uuid.uuid4().hex[:12]}"


@pytest.fixture
def limit_settings(prefix: str) -> LimitSettings:
    """Limit settings under this test's key prefix."""
    return LimitSettings(key_prefix=prefix)


@pytest.fixture
def shared_redis(redis_url: str, prefix: str) -> Iterator[str]:
    """The real local Redis; this test's keys are deleted afterwards."""
    yield redis_url
    delete_prefix(redis_url, prefix)


@pytest.fixture(params=LEDGERS)
def ledger(request: pytest.FixtureRequest, limit_settings: LimitSettings) -> Iterator[BudgetLedger]:
    """An empty budget ledger on each backend."""
    if request.param == "memory":
        yield MemoryBudgetLedger()
        return
    url: str = request.getfixturevalue("shared_redis")
    made = RedisBudgetLedger(url, limit_settings)
    yield made
    made.close()


@pytest.fixture(params=FREEZE_STORES)
def freeze_store(
    request: pytest.FixtureRequest, tmp_path: Path, limit_settings: LimitSettings
) -> Iterator[FreezeStore]:
    """An empty freeze list on each backend."""
    store: FreezeStore
    if request.param == "memory":
        store = MemoryFreezeStore()
    elif request.param == "sqlite":
        store = SqlFreezeStore(f"sqlite:///{tmp_path / 'freezes.db'}")
    elif request.param == "postgres":
        store = SqlFreezeStore(request.getfixturevalue("pg_schema_url"))
    else:
        store = RedisFreezeStore(request.getfixturevalue("shared_redis"), limit_settings)
    yield store
    closing(store)


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for this test only, dropped afterwards."""
    with fresh_schema(postgres_url, "freeze") as url:
        yield url
