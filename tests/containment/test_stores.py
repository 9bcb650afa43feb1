"""Store URLs: Redis recognised, and described in errors without their password."""

from __future__ import annotations

import pytest

from firewall.containment.stores import describe_url, is_redis, limits_options


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2-pass@cache.internal:6380/2", "Redis at cache.internal:6380"),
        ("rediss://user:pw@cache:6379/0", "Redis at cache:6379"),
        ("redis://localhost", "Redis at localhost:6379"),
        ("memory://", "in-process memory"),
        ("postgresql+psycopg://app:pw@db.internal/fw", "postgresql at db.internal"),
        ("sqlite:////var/lib/fw.db", "sqlite"),
    ],
)
def test_urls_are_described_without_credentials(url: str, shown: str) -> None:
    assert describe_url(url) == shown
    assert "pw" not in describe_url(url)


def test_only_redis_urls_get_prefix_and_timeouts() -> None:
    assert is_redis("redis://h:1/0")
    assert not is_redis("memory://")
    assert limits_options("memory://", "fw", 0.5) == {}
    assert limits_options("redis://h:1/0", "fw", 0.5) == {
        "key_prefix": "fw:limits",
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
    }
