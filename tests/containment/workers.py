"""Run in spawned child processes: hammer one budget, one rate limit, or watch a freeze."""

from __future__ import annotations

import time

import redis
from limits.storage import storage_from_string

from firewall.containment.budgets_redis import RedisBudgetLedger
from firewall.containment.freeze import CachedFreezes
from firewall.containment.freeze_stores import RedisFreezeStore
from firewall.containment.settings import BudgetRule, LimitSettings
from firewall.containment.stores import limits_options
from firewall.registry import ToolRegistry
from firewall.stages.base import CallContext
from firewall.stages.budgets import BudgetCheck
from firewall.stages.freeze import FreezeCheck
from firewall.stages.limits import RateLimitCheck, RateLimitRule
from firewall.types import DenyCode, Principal, Risk, ToolCall, ToolSpec

REFUND = ToolSpec(name="issue_refund", scope="refunds:write", risk=Risk.HIGH, money_arg="amount")
LOOKUP = ToolSpec(name="crm_lookup", scope="crm:read")
AGENT = Principal(agent_id="bot-1", tenant="acme", on_behalf_of="customer:c-1")


def _barrier(url: str, prefix: str, parties: int) -> None:
    """Start together: count in, then wait until every worker has."""
    client = redis.Redis.from_url(url)
    client.incr(f"{prefix}:barrier")
    while int(client.get(f"{prefix}:barrier") or 0) < parties:
        time.sleep(0.001)
    client.close()


def spend_budget(  # noqa: PLR0917 - a Pool.starmap target takes positional args
    url: str, prefix: str, worker: int, attempts: int, amount: float, parties: int
) -> float:
    """Try ``attempts`` refunds of ``amount``; return the total this worker got admitted."""
    rule = BudgetRule(tool="issue_refund", per="agent", amount=2000, window="1 hour")
    check = BudgetCheck([rule], RedisBudgetLedger(url, LimitSettings(key_prefix=prefix)))
    _barrier(url, prefix, parties)
    admitted = 0.0
    for n in range(attempts):
        call = ToolCall(
            tool="issue_refund",
            args={"order_id": "o-1", "amount": amount},
            principal=AGENT,
            session_id=f"w{worker}",
            call_id=f"call_w{worker}_{n}",
        )
        if check.check(CallContext(call=call, spec=REFUND)) is None:
            admitted += amount
    return admitted


def hit_rate_limit(url: str, prefix: str, attempts: int, parties: int) -> int:
    """Make ``attempts`` calls against one shared ``50/hour`` rule; return how many passed."""
    storage = storage_from_string(url, **limits_options(url, prefix, 0.5))
    check = RateLimitCheck([RateLimitRule(limit="50/hour")], url, storage=storage)
    _barrier(url, prefix, parties)
    passed = 0
    for _ in range(attempts):
        call = ToolCall(
            tool="crm_lookup", args={"customer_id": "c-1"}, principal=AGENT, session_id="s-1"
        )
        if check.check(CallContext(call=call, spec=LOOKUP)) is None:
            passed += 1
    return passed


def watch_for_freeze(url: str, prefix: str, timeout_s: float) -> tuple[int, float | None]:
    """Check calls until one is refused as frozen: (calls admitted before, time refused)."""
    settings = LimitSettings(key_prefix=prefix)
    freezes = CachedFreezes(RedisFreezeStore(url, settings), ttl_s=settings.freeze_cache_s)
    check = FreezeCheck(freezes, ToolRegistry([LOOKUP]))
    redis.Redis.from_url(url).incr(f"{prefix}:ready")
    admitted, deadline = 0, time.time() + timeout_s
    while time.time() < deadline:
        call = ToolCall(
            tool="crm_lookup", args={"customer_id": "c-1"}, principal=AGENT, session_id="s-1"
        )
        denial = check.check(CallContext(call=call))
        if denial is not None and denial.code is DenyCode.FROZEN:
            return admitted, time.time()
        admitted += 1
        time.sleep(0.005)
    return admitted, None
