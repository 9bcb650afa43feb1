"""The freeze stage: a frozen agent, tenant or everything runs nothing; outages fail closed."""

from __future__ import annotations

import pytest

from firewall.containment.freeze import CachedFreezes, FreezeEntry, MemoryFreezeStore
from firewall.containment.outage import OutagePolicy
from firewall.stages.base import CallContext
from firewall.stages.freeze import FreezeCheck
from firewall.types import DenyCode, Principal, Risk, ToolCall, ToolSpec

TOOLS = {
    "crm_lookup": ToolSpec(name="crm_lookup", scope="crm:read", risk=Risk.LOW),
    "issue_refund": ToolSpec(name="issue_refund", scope="refunds:write", risk=Risk.HIGH),
}


def ctx(tool: str = "crm_lookup", agent: str = "bot-1", tenant: str = "acme") -> CallContext:
    principal = Principal(agent_id=agent, tenant=tenant)
    return CallContext(call=ToolCall(tool=tool, args={}, principal=principal, session_id="s-1"))


def stage(*targets: str, fail_open: bool = False) -> FreezeCheck:
    freezes = CachedFreezes(MemoryFreezeStore(), ttl_s=0)
    for target in targets:
        freezes.freeze(FreezeEntry(target=target, reason="incident 7", by="ops"))
    return FreezeCheck(freezes, TOOLS, OutagePolicy(fail_open_low_risk=fail_open))


@pytest.mark.parametrize(
    ("target", "agent", "tenant", "frozen"),
    [
        ("agent:bot-1", "bot-1", "acme", True),
        ("agent:bot-1", "bot-2", "acme", False),
        ("tenant:acme", "bot-2", "acme", True),
        ("tenant:acme", "bot-3", "globex", False),
        ("all", "bot-3", "globex", True),
    ],
)
def test_freezes_stop_their_targets_only(
    target: str, agent: str, tenant: str, frozen: bool
) -> None:
    denial = stage(target).check(ctx(agent=agent, tenant=tenant))
    assert (denial is not None) is frozen
    if denial is not None:
        assert denial.code is DenyCode.FROZEN
        assert f"{target} is frozen by ops" in denial.reasons[0]
        assert denial.reasons[0].endswith("incident 7")


def test_unknown_tools_are_frozen_too() -> None:
    denial = stage("agent:bot-1").check(ctx("delete_everything"))
    assert denial is not None
    assert denial.code is DenyCode.FROZEN


class DownStore(MemoryFreezeStore):
    where = "Redis at 10.0.0.1:6379"

    def snapshot(self) -> dict[str, FreezeEntry]:
        raise ConnectionError("refused")


@pytest.mark.parametrize(
    ("tool", "fail_open", "refused"),
    [
        ("issue_refund", True, True),
        ("crm_lookup", False, True),
        ("crm_lookup", True, False),
        ("no_such_tool", True, True),
    ],
)
def test_an_unreachable_freeze_list_fails_closed_by_risk(
    tool: str, fail_open: bool, refused: bool
) -> None:
    check = FreezeCheck(
        CachedFreezes(DownStore()), TOOLS, OutagePolicy(fail_open_low_risk=fail_open)
    )
    denial = check.check(ctx(tool))
    assert (denial is not None) is refused
    if denial is not None:
        assert denial.code is DenyCode.LIMITER_ERROR
        assert "kill switch unavailable (Redis at 10.0.0.1:6379" in denial.reasons[0]


class FailingLater(MemoryFreezeStore):
    """A freeze store that answered once, then went down."""

    down = False

    def snapshot(self) -> dict[str, FreezeEntry]:
        if self.down:
            raise ConnectionError("store down")
        return super().snapshot()


@pytest.mark.parametrize(
    ("spec", "reads_store"),
    [
        (ToolSpec(name="crm_lookup", scope="crm:read", risk=Risk.LOW), False),
        (ToolSpec(name="crm_lookup", scope="crm:read", risk=Risk.MEDIUM), False),
        (ToolSpec(name="crm_lookup", scope="crm:read", risk=Risk.HIGH), True),
        (ToolSpec(name="crm_lookup", scope="crm:read", risk=Risk.CRITICAL), True),
        (ToolSpec(name="crm_lookup", scope="crm:read", money_arg="amount"), True),
    ],
)
def test_the_last_look_reads_the_store_for_high_risk_and_money_tools(
    spec: ToolSpec, reads_store: bool
) -> None:
    store = FailingLater()
    freezes = CachedFreezes(store, ttl_s=0.9)
    last_look = FreezeCheck(freezes, {"crm_lookup": spec}, OutagePolicy(), last_look=True)
    assert last_look.check(ctx()) is None  # the copy is read now, then the store dies
    store.down = True
    denial = last_look.check(ctx())
    if reads_store:
        assert denial is not None
        assert denial.code is DenyCode.LIMITER_ERROR
    else:
        assert denial is None  # a low- or medium-risk tool may use the copy in its window


def test_the_pipeline_look_uses_the_copy_for_every_tool() -> None:
    store = FailingLater()
    first = FreezeCheck(CachedFreezes(store, ttl_s=0.9), TOOLS, OutagePolicy())
    assert first.check(ctx("issue_refund")) is None
    store.down = True
    assert first.check(ctx("issue_refund")) is None  # the last look before the run decides
