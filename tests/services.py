"""The real local services tests run against (PostgreSQL, Redis).

``postgres_url()`` and ``redis_url()`` return the service URL (from
``FIREWALL_TEST_POSTGRES_URL`` / ``FIREWALL_TEST_REDIS_URL`` or the local default) when the
service answers. When it does not, the calling test is skipped with a reason that names
the URL and the error; with ``FIREWALL_REQUIRE_SERVICES=1`` it fails instead, so CI
cannot go green by skipping.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import NoReturn

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from firewall.testing.postgres import fresh_schema as shared_fresh_schema

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REQUIRE_SERVICES = "FIREWALL_REQUIRE_SERVICES"
PROBE_TIMEOUT_S = 3


def postgres_url() -> str:
    """The test PostgreSQL URL, or skip (fail if services are required)."""
    url = os.environ.get("FIREWALL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    problem = _postgres_problem(url)
    if problem:
        _unavailable("PostgreSQL", make_url(url).render_as_string(hide_password=True), problem)
    return url


def redis_url() -> str:
    """The test Redis URL, or skip (fail if services are required)."""
    url = os.environ.get("FIREWALL_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    problem = _redis_problem(url)
    if problem:
        _unavailable("Redis", url, problem)
    return url


@functools.cache
def _postgres_problem(url: str) -> str | None:
    engine = create_engine(url, connect_args={"connect_timeout": PROBE_TIMEOUT_S})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


@functools.cache
def _redis_problem(url: str) -> str | None:
    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()
    return None


def _unavailable(service: str, url: str, problem: str) -> NoReturn:
    message = f"{service} unreachable at {url}: {problem}"
    if os.environ.get(REQUIRE_SERVICES) == "1":
        pytest.fail(f"{message} ({REQUIRE_SERVICES}=1)", pytrace=False)
    pytest.skip(message)


def fresh_schema(postgres_url: str, prefix: str) -> contextlib.AbstractContextManager[str]:
    """A fresh, dropped-afterwards schema named for tests (see firewall.testing.postgres)."""
    return shared_fresh_schema(postgres_url, f"{prefix}_test")
