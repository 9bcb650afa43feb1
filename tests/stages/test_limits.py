"""Rate-limit rules: keys per agent/tenant/customer, retry hints, fail closed."""

from __future__ import annotations

import socket
import time

import pytest
from limits.storage import MemoryStorage
from pydantic import ValidationError

from firewall.containment.outage import OutagePolicy
from firewall.policy.document import DecisionDocument
from firewall.stages.base import CallContext
from firewall.stages.limits import RateLimitCheck, RateLimitRule, expire_inline
from firewall.types import DenyCode, Obligations, Principal, Risk, ToolCall, ToolSpec


def ctx(agent: str = "a1", tenant: str = "t1", customer: str | None = None) -> CallContext:
    principal = Principal(agent_id=agent, tenant=tenant, on_behalf_of=customer)
    return CallContext(call=ToolCall(tool="lookup", args={}, principal=principal, session_id="s-1"))


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


def test_denial_names_the_rule_and_when_to_retry() -> None:
    check = RateLimitCheck(
        [RateLimitRule(tool="refund", limit="1/hour"), RateLimitRule(limit="1/minute")]
    )
    assert check.check(ctx()) is None
    denial = check.check(ctx())
    assert denial is not None
    assert denial.reasons == (
        "rate limit exceeded: rate_limits[1] (1/minute per agent for tool '*')",
    )
    assert denial.retry_after_s is not None
    assert 0 < denial.retry_after_s <= 60


def test_sliding_window_counter_strategy_is_honoured() -> None:
    rule = RateLimitRule(limit="2/minute", strategy="sliding-window-counter")
    check = RateLimitCheck([rule])
    assert [check.check(ctx()) is None for _ in range(3)] == [True, True, False]


def _with_obligations(context: CallContext, *limits: dict[str, str]) -> CallContext:
    obligations = Obligations.model_validate({"rate_limits": list(limits)})
    context.policy = DecisionDocument(outcome="allow", reasons=(), obligations=obligations)
    return context


def test_policy_obligations_add_rate_limits_per_tool() -> None:
    check = RateLimitCheck([])
    first = _with_obligations(ctx(customer="customer:1"), {"per": "customer", "limit": "1/hour"})
    again = _with_obligations(
        ctx("a2", customer="customer:1"), {"per": "customer", "limit": "1/hour"}
    )
    assert check.check(first) is None
    denial = check.check(again)
    assert denial is not None
    assert (
        "policy obligation rate_limits[0] (1/hour per customer for tool 'lookup')"
        in (denial.reasons[0])
    )


def test_obligations_with_an_unreadable_limit_are_malformed() -> None:
    with pytest.raises(ValidationError, match="granularity"):
        Obligations.model_validate({"rate_limits": [{"limit": "3 per fortnight"}]})


def test_same_rule_shares_counters_across_check_instances() -> None:
    """Two firewalls (or processes) with the same rule count in the same bucket."""
    storage = MemoryStorage()
    rule = RateLimitRule(limit="1/minute")
    assert RateLimitCheck([rule], storage=storage).check(ctx()) is None
    assert RateLimitCheck([rule], storage=storage).check(ctx()) is not None


@pytest.mark.parametrize(("risk", "refused"), [(Risk.LOW, False), (Risk.HIGH, True)])
def test_unreachable_limiter_fails_open_only_for_low_risk_when_configured(
    risk: Risk, refused: bool
) -> None:
    url = f"redis://127.0.0.1:{_closed_port()}"
    check = RateLimitCheck(
        [RateLimitRule(limit="5/minute")], url, outage=OutagePolicy(fail_open_low_risk=True)
    )
    context = ctx()
    context.spec = ToolSpec(name="lookup", scope="crm:read", risk=risk)
    denial = check.check(context)
    assert (denial is not None) is refused
    if denial is not None:
        assert denial.reasons[0].startswith("rate limiter unavailable (Redis at 127.0.0.1:")


def test_memory_limits_start_no_thread_per_call() -> None:
    """limits' MemoryStorage would start a Timer thread per call at an agent's pace."""
    storage = MemoryStorage()
    check = RateLimitCheck([RateLimitRule(limit="1000/minute")], storage=storage)
    first_timer = storage.timer  # the one its constructor started
    first_timer.join()
    for _ in range(3):
        time.sleep(0.02)  # longer than the Timer's 10 ms: the library would start another
        assert check.check(ctx()) is None
        assert storage.timer is first_timer
        assert not first_timer.is_alive()


def test_inline_expiry_still_drops_expired_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = MemoryStorage()
    expire_inline(storage, interval_s=0.0)
    storage.acquire_entry("k", limit=5, expiry=1)
    assert len(storage.events["k"]) == 1
    later = time.time() + 5
    monkeypatch.setattr(time, "time", lambda: later)
    storage.acquire_entry("other", limit=5, expiry=60)  # any use runs the due expiry
    assert "k" not in storage.events or not storage.events["k"]
