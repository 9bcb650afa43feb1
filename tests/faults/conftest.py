"""Fixtures of the fault tests: keys, a policy, and servers the tests own and kill."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from firewall.audit.keyfiles import generate_key_pair
from tests.containment.helpers import OwnRedis
from tests.faults.own_postgres import OwnPostgres, missing_tools
from tests.faults.rig import write_policy
from tests.services import REQUIRE_SERVICES, fresh_schema


def cannot_run(message: str) -> NoReturn:
    """Skip with ``message``, or fail when the services are required (CI)."""
    if os.environ.get(REQUIRE_SERVICES) == "1":
        pytest.fail(f"{message} ({REQUIRE_SERVICES}=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def key_files(tmp_path: Path) -> tuple[Path, Path]:
    """``(private key file, public key file)`` of a fresh audit writer key."""
    private_path, public_path, _ = generate_key_pair(tmp_path / "keys", "fault-writer")
    return private_path, public_path


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """The pipeline tests' policy (lookup allowed, refund held, pay denied)."""
    return write_policy(tmp_path / "policy")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database for the audit log and the holds."""
    return f"sqlite:///{tmp_path / 'firewall.db'}"


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A fresh schema on the shared PostgreSQL, dropped afterwards."""
    with fresh_schema(postgres_url, "faults") as url:
        yield url


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A PostgreSQL server of this test only, always killed and removed afterwards."""
    problem = missing_tools()
    if problem is not None:
        cannot_run(f"cannot start an own PostgreSQL: {problem}")
    server = OwnPostgres()
    try:
        server.create()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of this test only, always killed afterwards."""
    if shutil.which("redis-server") is None:
        cannot_run("cannot start an own Redis: redis-server not on PATH")
    server = OwnRedis(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.kill()
