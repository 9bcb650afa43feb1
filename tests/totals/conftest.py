"""Every totals backend: memory, and the real local Redis under a key prefix of the test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from firewall.containment.settings import LimitSettings
from firewall.totals import MemoryTotals, TotalsStore
from firewall.totals.redis_store import RedisTotals
from tests.containment.helpers import delete_prefix


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test only."""
    return f"fwtest{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, prefix: str) -> Iterator[TotalsStore]:
    """An empty totals store on each backend."""
    if request.param == "memory":
        yield MemoryTotals()
        return
    url: str = request.getfixturevalue("redis_url")
    made = RedisTotals(url, LimitSettings(key_prefix=prefix))
    yield made
    made.close()
    delete_prefix(url, prefix)
