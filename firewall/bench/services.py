"""The PostgreSQL and Redis a benchmark runs against: reachable or a reason to skip."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PROBE_TIMEOUT_S = 3


class BenchSkip(Exception):  # noqa: N818 - a skip, not an error
    """A scenario cannot run here; the message says why."""


@dataclass(frozen=True)
class Service:
    """A service URL and, if it does not answer, why."""

    name: str
    url: str
    problem: str | None = None

    def require(self) -> str:
        """The URL, or :class:`BenchSkip` naming the service and its problem."""
        if self.problem is not None:
            raise BenchSkip(f"{self.name} unreachable at {self.shown_url}: {self.problem}")
        return self.url

    @property
    def shown_url(self) -> str:
        """The URL without its password."""
        if self.name == "PostgreSQL":
            return make_url(self.url).render_as_string(hide_password=True)
        return self.url


def postgres(url: str | None = None) -> Service:
    """``url``, else ``FIREWALL_TEST_POSTGRES_URL``, else the local default; probed."""
    url = url or os.environ.get("FIREWALL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    return Service("PostgreSQL", url, _postgres_problem(url))


def redis_service(url: str | None = None) -> Service:
    """``url``, else ``FIREWALL_TEST_REDIS_URL``, else the local default; probed."""
    url = url or os.environ.get("FIREWALL_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    return Service("Redis", url, _redis_problem(url))


def _postgres_problem(url: str) -> str | None:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": PROBE_TIMEOUT_S})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure is a reason to skip
        return _first_line(getattr(exc, "orig", None) or exc)
    return None


def _redis_problem(url: str) -> str | None:
    try:
        import redis  # noqa: PLC0415 - the redis extra is optional

        client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure is a reason to skip
        return _first_line(exc)
    return None


def _first_line(exc: object) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def redis_prefix(redis_url: str, prefix: str = "bench") -> Iterator[str]:
    """A fresh key prefix on ``redis_url``; its keys are deleted afterwards."""
    import redis  # noqa: PLC0415 - the redis extra is optional

    key_prefix = f"{prefix}{uuid.uuid4().hex[:10]}"
    try:
        yield key_prefix
    finally:
        client = redis.Redis.from_url(redis_url)
        try:
            for key in client.scan_iter(match=f"{key_prefix}*"):
                client.delete(key)
        finally:
            client.close()


def server_version(service: Service) -> str:
    """The server's version string, or '' if it does not answer."""
    if service.problem is not None:
        return ""
    try:
        if service.name == "PostgreSQL":
            engine = create_engine(service.url)
            with engine.connect() as conn:
                version = str(conn.execute(text("SHOW server_version")).scalar_one())
            engine.dispose()
            return version
        import redis  # noqa: PLC0415 - the redis extra is optional

        client = redis.Redis.from_url(service.url)
        try:
            info = client.info("server")
        finally:
            client.close()
        return str(info.get("redis_version", ""))
    except Exception:  # noqa: BLE001 - the version is only informative
        return ""
