"""Approval stores on every backend (SQLite file, PostgreSQL schema) and a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg  # noqa: F401 - its C extension must load before freezegun swaps datetime
import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from firewall.approvals import ApprovalService, SqlApprovalStore
from firewall.audit.keyfiles import ensure_dev_key
from tests import services
from tests.approvals.helpers import GROUPS, T0, RecordingSink

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
# psycopg times its connection attempts with time.monotonic, which freezegun would freeze.
FREEZE_IGNORE = ["psycopg"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite approvals database file (with a development audit key beside it)."""
    ensure_dev_key(tmp_path)
    return f"sqlite:///{tmp_path / 'approvals.db'}"


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for this test only, dropped afterwards."""
    with services.fresh_schema(postgres_url, "approvals") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh approvals database URL, once per backend."""
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[SqlApprovalStore]:
    """An empty approval store on each backend."""
    store = SqlApprovalStore(db_url)
    yield store
    store.close()


@pytest.fixture
def audit() -> RecordingSink:
    """Audit events the service appended."""
    return RecordingSink()


@pytest.fixture
def frozen() -> Iterator[FrozenDateTimeFactory]:
    """Time frozen at ``T0`` (move it with ``frozen.tick``/``frozen.move_to``)."""
    with freeze_time(T0, ignore=FREEZE_IGNORE) as factory:
        assert isinstance(factory, FrozenDateTimeFactory)
        yield factory


@pytest.fixture
def service(store: SqlApprovalStore, audit: RecordingSink) -> ApprovalService:
    """The approval service over ``store``, with the test approver groups."""
    return ApprovalService(store, audit, GROUPS)
