"""The circuit breaker: too many misbehaviour denials freeze the agent, once, with an alert."""

from __future__ import annotations

from limits.storage import MemoryStorage

from firewall.containment.breaker import CircuitBreaker
from firewall.containment.freeze import CachedFreezes, FreezeEntry, MemoryFreezeStore
from firewall.containment.settings import BreakerSettings
from firewall.types import Deny, DenyCode, Principal, ToolCall

BOT = Principal(agent_id="bot-1", tenant="acme")


def denial(code: DenyCode = DenyCode.POLICY) -> Deny:
    return Deny(call_id="call_1", code=code, reasons=("no",))


def call(agent: str = "bot-1", tool: str = "issue_refund") -> ToolCall:
    principal = BOT.model_copy(update={"agent_id": agent})
    return ToolCall(tool=tool, args={}, principal=principal, session_id="s-1")


def breaker(
    max_denials: int = 3, **settings: object
) -> tuple[CircuitBreaker, CachedFreezes, list[FreezeEntry]]:
    freezes = CachedFreezes(MemoryFreezeStore(), ttl_s=0)
    alerts: list[FreezeEntry] = []
    config = BreakerSettings.model_validate({"max_denials": max_denials, **settings})
    return CircuitBreaker(config, MemoryStorage(), freezes, alerts.append), freezes, alerts


def test_agent_is_frozen_when_denials_pass_the_threshold() -> None:
    tripwire, freezes, alerts = breaker(max_denials=3)
    assert [tripwire.record(call(), denial()) for _ in range(3)] == [None, None, None]
    entry = tripwire.record(call(), denial(DenyCode.RATE_LIMITED))
    assert entry is not None
    assert entry.automatic
    assert entry.target == "agent:bot-1"
    assert "more than 3 denied calls within 1 minute" in entry.reason
    assert "rate_limited of 'issue_refund'" in entry.reason
    assert freezes.matching(BOT) == entry
    assert alerts == [entry]


def test_each_agent_has_its_own_count() -> None:
    tripwire, freezes, _ = breaker(max_denials=2)
    for agent in ("bot-1", "bot-2", "bot-1", "bot-2"):
        tripwire.record(call(agent), denial())
    assert freezes.matching(BOT) is None


def test_infrastructure_failures_do_not_count() -> None:
    tripwire, freezes, alerts = breaker(max_denials=1)
    for code in (DenyCode.LIMITER_ERROR, DenyCode.STORE_ERROR, DenyCode.FROZEN):
        for _ in range(3):
            assert tripwire.record(call(), denial(code)) is None
    assert freezes.matching(BOT) is None
    assert alerts == []


def test_an_agent_already_frozen_by_hand_keeps_that_freeze() -> None:
    tripwire, freezes, alerts = breaker(max_denials=1)
    manual = FreezeEntry(target="agent:bot-1", reason="investigating", by="ops")
    freezes.freeze(manual)
    tripwire.record(call(), denial())
    assert tripwire.record(call(), denial()) is None
    assert freezes.matching(BOT) == manual
    assert alerts == []


def test_a_disabled_breaker_never_freezes() -> None:
    tripwire, freezes, _ = breaker(max_denials=1, enabled=False)
    for _ in range(5):
        tripwire.record(call(), denial())
    assert freezes.matching(BOT) is None


def test_a_huge_unknown_tool_name_is_quoted_short_in_the_freeze_reason() -> None:
    tripwire, _, _ = breaker(max_denials=1)
    tripwire.record(call(tool="t" * 2**20), denial(DenyCode.UNKNOWN_TOOL))
    entry = tripwire.record(call(tool="t" * 2**20), denial(DenyCode.UNKNOWN_TOOL))
    assert entry is not None
    assert "(1048576 characters)" in entry.reason
    assert len(entry.reason) < 300
