"""The background checkpointer stores checkpoints while nothing is appended."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from firewall.audit.checkpointer import PeriodicCheckpointer
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.schema import checkpoints_table
from firewall.audit.store import SqlAuditLog
from tests.audit.tampering import database

OpenLog = Callable[..., SqlAuditLog]


def stored(url: str) -> int:
    with database(url) as conn:
        return int(conn.execute(select(func.count()).select_from(checkpoints_table)).scalar_one())


def test_an_idle_log_gets_checkpoints_on_a_timer(sqlite_url: str, writer_keys: WriterKeys) -> None:
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        assert stored(sqlite_url) == 1
        with PeriodicCheckpointer(log, interval_s=0.1):
            deadline = time.monotonic() + 10
            while stored(sqlite_url) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    assert stored(sqlite_url) >= 3


def test_the_interval_must_be_positive(open_log: OpenLog) -> None:
    with pytest.raises(ValueError, match="positive"):
        PeriodicCheckpointer(open_log(), interval_s=0)
