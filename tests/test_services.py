"""The shared service fixtures skip when a service is down, and fail when it is required."""

from __future__ import annotations

import re

import pytest

from tests import services

CLOSED_POSTGRES = "postgresql+psycopg://postgres:secret@127.0.0.1:1/test"
CLOSED_REDIS = "redis://127.0.0.1:1/0"


def test_unreachable_postgres_skips_with_the_url_and_no_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIREWALL_TEST_POSTGRES_URL", CLOSED_POSTGRES)
    monkeypatch.delenv(services.REQUIRE_SERVICES, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"PostgreSQL unreachable at .*:1/test") as info:
        services.postgres_url()
    assert "secret" not in str(info.value)


def test_unreachable_redis_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREWALL_TEST_REDIS_URL", CLOSED_REDIS)
    monkeypatch.delenv(services.REQUIRE_SERVICES, raising=False)
    with pytest.raises(
        pytest.skip.Exception, match=re.escape(f"Redis unreachable at {CLOSED_REDIS}")
    ):
        services.redis_url()


@pytest.mark.parametrize(
    ("variable", "url", "probe"),
    [
        ("FIREWALL_TEST_POSTGRES_URL", CLOSED_POSTGRES, services.postgres_url),
        ("FIREWALL_TEST_REDIS_URL", CLOSED_REDIS, services.redis_url),
    ],
    ids=["postgres", "redis"],
)
def test_unreachable_required_service_fails(
    monkeypatch: pytest.MonkeyPatch, variable: str, url: str, probe: object
) -> None:
    monkeypatch.setenv(variable, url)
    monkeypatch.setenv(services.REQUIRE_SERVICES, "1")
    with pytest.raises(pytest.fail.Exception, match="FIREWALL_REQUIRE_SERVICES=1"):
        probe()  # type: ignore[operator]


@pytest.mark.postgres
@pytest.mark.redis
def test_reachable_services_return_their_urls(postgres_url: str, redis_url: str) -> None:
    assert postgres_url.startswith("postgresql")
    assert redis_url.startswith("redis://")
