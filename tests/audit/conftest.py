"""Audit logs on every backend, and the keys that sign them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firewall.audit.keyfiles import WriterKeys, generate_key_pair
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust
from tests.services import fresh_schema

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite audit database file."""
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for this test only (dropped afterwards)."""
    with fresh_schema(postgres_url, "audit") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def audit_url(request: pytest.FixtureRequest) -> str:
    """A fresh audit database URL, once per backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def key_files(tmp_path: Path) -> tuple[Path, Path]:
    """``(private key file, public key file)`` of a fresh writer key."""
    private_path, public_path, _ = generate_key_pair(tmp_path / "keys", "test-writer")
    return private_path, public_path


@pytest.fixture
def writer_keys(key_files: tuple[Path, Path]) -> WriterKeys:
    """The writer's keys, read from their file."""
    return WriterKeys.from_file(key_files[0])


@pytest.fixture
def trust(key_files: tuple[Path, Path]) -> Trust:
    """What an auditor holding the writer's public key brings."""
    return Trust.from_files([key_files[1]])


@pytest.fixture
def open_log(audit_url: str, writer_keys: WriterKeys) -> Iterator[Callable[..., SqlAuditLog]]:
    """Open (and at the end close) writer logs on ``audit_url``."""
    opened: list[SqlAuditLog] = []

    def opener(**options: object) -> SqlAuditLog:
        log = SqlAuditLog(audit_url, keys=writer_keys, **options)  # type: ignore[arg-type]
        opened.append(log)
        return log

    yield opener
    for log in opened:
        log.close()
