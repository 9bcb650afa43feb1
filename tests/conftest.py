"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest

from tests import services


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real local PostgreSQL (skips, or fails under FIREWALL_REQUIRE_SERVICES=1)."""
    return services.postgres_url()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real local Redis (skips, or fails under FIREWALL_REQUIRE_SERVICES=1)."""
    return services.redis_url()
