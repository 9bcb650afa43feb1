"""Fixtures of the Slack and service tests: the service running on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg  # noqa: F401 - its C extension must load before freezegun swaps datetime
import pytest

from firewall.audit.keyfiles import ensure_dev_key
from tests.adapters.rig import Rig, running_service


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The SQLite file the agent process and the service share (with an audit signing key)."""
    ensure_dev_key(tmp_path)
    return f"sqlite:///{tmp_path / 'firewall.db'}"


@pytest.fixture
def rig(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """The service with Slack (mock Web API) on loopback, over a fresh SQLite file."""
    with running_service(db_url, monkeypatch) as running:
        yield running
