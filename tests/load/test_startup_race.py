"""Workers that start together on an empty PostgreSQL schema all open the approval store.

``CREATE TABLE IF NOT EXISTS`` alone races on PostgreSQL: of two sessions creating the
table at once, the loser fails on ``pg_type_typname_nsp_index``. Each thread here has its
own engine and connection, as each worker process does.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from firewall.approvals.store import SqlApprovalStore
from tests.services import fresh_schema

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
WORKERS, ROUNDS = 8, 10


def open_store(url: str, start: threading.Barrier) -> None:
    """Wait for every worker, then create (or find) the approval table."""
    start.wait(timeout=60)
    SqlApprovalStore(url).close()


def test_workers_creating_the_approval_table_at_once_all_succeed(postgres_url: str) -> None:
    for _ in range(ROUNDS):
        with fresh_schema(postgres_url, "race") as url, ThreadPoolExecutor(WORKERS) as pool:
            start = threading.Barrier(WORKERS)
            opened = [pool.submit(open_store, url, start) for _ in range(WORKERS)]
            for future in opened:
                future.result(timeout=120)  # re-raises a worker's StoreError
