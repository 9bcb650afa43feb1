"""Rate-limit rules: keys per agent/tenant/customer, retry hints, fail closed."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from firewall.stages.base import CallContext
from firewall.stages.limits import RateLimitCheck, RateLimitRule
from firewall.types import DenyCode, Principal, ToolCall


def ctx(agent: str = "a1", tenant: str = "t1", customer: str | None = None) -> CallContext:
    principal = Principal(agent_id=agent, tenant=tenant, on_behalf_of=customer)
    return CallContext(call=ToolCall(tool="lookup", args={}, principal=principal))


def test_rule_rejects_unreadable_limit() -> None:
    with pytest.raises(ValidationError, match="granularity"):
        RateLimitRule(limit="3 per fortnight")


def test_per_agent_rule_counts_agents_separately() -> None:
    check = RateLimitCheck([RateLimitRule(limit="1/minute", per="agent")])
    assert check.check(ctx("a1")) is None
    assert check.check(ctx("a2")) is None
    denial = check.check(ctx("a1"))
    assert denial is not None
    assert denial.code is DenyCode.RATE_LIMITED
    assert "1/minute per agent" in denial.reasons[0]


def test_per_tenant_rule_is_shared_by_the_tenants_agents() -> None:
    check = RateLimitCheck([RateLimitRule(limit="1/minute", per="tenant")])
    assert check.check(ctx("a1", "t1")) is None
    assert check.check(ctx("a2", "t1")) is not None
    assert check.check(ctx("a3", "t2")) is None


def test_per_customer_rule_keys_on_the_customer() -> None:
    check = RateLimitCheck([RateLimitRule(limit="1/minute", per="customer")])
    assert check.check(ctx("a1", customer="customer:1")) is None
    assert check.check(ctx("a2", customer="customer:1")) is not None
    assert check.check(ctx("a1", customer="customer:2")) is None


def test_rule_for_another_tool_does_not_count() -> None:
    check = RateLimitCheck([RateLimitRule(tool="refund", limit="1/minute")])
    assert all(check.check(ctx()) is None for _ in range(3))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_limiter_storage_fails_closed() -> None:
    url = f"redis://127.0.0.1:{_closed_port()}"
    check = RateLimitCheck([RateLimitRule(limit="5/minute")], storage_url=url)
    denial = check.check(ctx())
    assert denial is not None
    assert denial.code is DenyCode.LIMITER_ERROR
    assert "refused" in denial.reasons[0]
