"""Workers that start together on an empty PostgreSQL schema all open their SQL stores.

``CREATE TABLE IF NOT EXISTS`` alone races on PostgreSQL: of two sessions creating the
table at once, the loser fails on ``pg_type_typname_nsp_index``. Each thread here has its
own engine and connection, as each worker process does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import pytest
from firewall.adapters.slack.card_store import SqlCardStore

from firewall.approvals.store import SqlApprovalStore
from firewall.containment.freeze_stores import SqlFreezeStore
from tests.services import fresh_schema

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
WORKERS, ROUNDS = 8, 6


class Closable(Protocol):
    def close(self) -> None: ...


STORES: dict[str, Callable[[str], Closable]] = {
    "approval holds": SqlApprovalStore,
    "freeze list": SqlFreezeStore,
    "slack cards": SqlCardStore,
}


def open_store(url: str, start: threading.Barrier, store: Callable[[str], Closable]) -> None:
    """Wait for every worker, then create (or find) the store's table."""
    start.wait(timeout=60)
    store(url).close()


@pytest.mark.parametrize("name", sorted(STORES))
def test_workers_creating_a_store_table_at_once_all_succeed(postgres_url: str, name: str) -> None:
    for _ in range(ROUNDS):
        with fresh_schema(postgres_url, "race") as url, ThreadPoolExecutor(WORKERS) as pool:
            start = threading.Barrier(WORKERS)
            opened = [pool.submit(open_store, url, start, STORES[name]) for _ in range(WORKERS)]
            for future in opened:
                future.result(timeout=120)  # re-raises a worker's error
