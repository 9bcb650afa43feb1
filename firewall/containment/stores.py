"""Reaching the shared store: Redis clients with short timeouts, URLs safe to print."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from firewall.errors import MissingDependencyError

if TYPE_CHECKING:
    import redis

REDIS_SCHEMES = ("redis", "rediss", "redis+unix")


def is_redis(url: str) -> bool:
    """Whether ``url`` names a Redis server."""
    return urlsplit(url).scheme in REDIS_SCHEMES


def describe_url(url: str) -> str:
    """``url`` as it may appear in errors and logs: the kind of store and where, no password."""
    parts = urlsplit(url)
    if parts.scheme in REDIS_SCHEMES:
        return f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"
    if parts.scheme == "memory":
        return "in-process memory"
    host = f" at {parts.hostname}" if parts.hostname else ""
    return f"{parts.scheme.split('+')[0] or 'store'}{host}"


def redis_client(url: str, timeout_s: float) -> redis.Redis:
    """A Redis client that gives up after ``timeout_s`` (connect and read)."""
    try:
        import redis  # noqa: PLC0415 - optional extra
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise MissingDependencyError("redis", "redis") from exc
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, decode_responses=True
    )


def limits_options(url: str, key_prefix: str, timeout_s: float) -> dict[str, float | str]:
    """Options for ``limits.storage.storage_from_string``: prefix and timeouts for Redis."""
    if not is_redis(url):
        return {}
    return {
        "key_prefix": f"{key_prefix}:limits",
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
    }
