"""The gate with credentials, budgets, the kill switch and the breaker, on real stores."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from firewall.approvals.models import HoldState
from firewall.audit.keyfiles import ensure_dev_key
from firewall.containment.control import Containment
from firewall.containment.freeze import FreezeTarget
from firewall.containment.settings import BreakerSettings, LimitSettings
from firewall.credentials import current_credential
from firewall.credentials.vault import CredentialError
from firewall.errors import ConfigError
from firewall.gate import Executed, Firewall
from firewall.settings import GateSettings
from firewall.stages.budgets import bucket_of
from firewall.stages.limits import RateLimitRule
from firewall.testing.approver import ScriptedApprover, Verdict, always
from firewall.types import Deny, DenyCode, Hold
from tests.containment.helpers import closed_port
from tests.containment.rig import (
    CRM_SECRET,
    PAY_SECRET,
    REFUND_BUDGET,
    SPECS,
    Contained,
    call,
    contained_rig,
    vault,
)
from tests.gate_helpers import make_rig


def using_credential(seen: list[str]) -> Callable[[], str]:
    """A tool that presents its credential to its backend (here: records it)."""

    def execute() -> str:
        credential = current_credential()
        seen.append(f"{credential.name}:{credential.reveal()}:{credential.call_id}")
        return "done"

    return execute


def budget_used(box: Contained) -> int:
    """Cents of the rig's refund budget now reserved."""
    bucket = bucket_of(REFUND_BUDGET, call("refund", amount=1), "budgets[0]")
    return box.containment.ledger.used(bucket)


def test_tool_gets_its_own_credential_only_while_it_runs(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    the_call = call()
    result = box.firewall.run(the_call, using_credential(box.seen))
    assert isinstance(result, Executed)
    assert box.seen == [f"crm:{CRM_SECRET}:{the_call.call_id}"]
    with pytest.raises(CredentialError):
        current_credential()


async def test_async_tool_gets_its_credential(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)

    async def execute() -> str:
        await asyncio.sleep(0)
        return using_credential(box.seen)()

    result = await box.firewall.arun(call("refund", amount=20), execute)
    assert isinstance(result, Executed)
    assert box.seen[0].startswith(f"payments:{PAY_SECRET}:")


def test_a_tool_without_a_credential_gets_none(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    with pytest.raises(CredentialError, match="only a tool that declares a credential"):
        box.firewall.run_allowed(call("pay"), using_credential(box.seen))
    assert box.seen == []


def test_missing_secret_refuses_the_call_audits_and_releases_its_budget(tmp_path: Path) -> None:
    box = contained_rig(tmp_path, credentials=vault({"CRM": CRM_SECRET}))
    the_call = call("refund", amount=50)
    result = box.firewall.run(the_call, using_credential(box.seen))
    assert isinstance(result, Deny)
    assert result.code is DenyCode.CREDENTIAL_ERROR
    assert "environment variable PAY is not set" in result.reasons[0]
    assert box.seen == []
    records = [(r.outcome, r.code) for r in box.rig.records(the_call.call_id)]
    assert records == [("allow", None), ("deny", "credential_error")]
    assert budget_used(box) == 0


def test_a_held_call_gets_its_credential_after_approval(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    the_call = call("refund", amount=250)
    with ScriptedApprover(box.rig.approvals, always("approve", "alice")).running():
        result = box.firewall.run(the_call, using_credential(box.seen))
    assert isinstance(result, Executed)
    assert box.seen == [f"payments:{PAY_SECRET}:{the_call.call_id}"]


def test_a_leaking_tool_error_leaves_without_the_secret(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    the_call = call()

    def leaky() -> str:
        raise PermissionError(f"401 for token {current_credential().reveal()}")

    with pytest.raises(PermissionError) as caught:
        box.firewall.run(the_call, leaky)
    shown = "".join(traceback.format_exception(caught.value))
    assert CRM_SECRET not in shown
    assert "401 for token [REDACTED]" in shown
    assert box.rig.records(the_call.call_id)[-1].details == {"error": "PermissionError"}


def test_firewall_refuses_tools_naming_undeclared_credentials(tmp_path: Path) -> None:
    ensure_dev_key(tmp_path)
    base = make_rig(tmp_path)
    with pytest.raises(ConfigError, match="credential 'crm' is not declared"):
        Firewall(
            tools=SPECS,
            policy=base.firewall.policy,
            audit=base.audit,
            approvals=base.approvals,
        )


def test_containment_and_loose_limit_settings_are_not_mixed(tmp_path: Path) -> None:
    ensure_dev_key(tmp_path)
    base = make_rig(tmp_path)
    with pytest.raises(ConfigError, match="Containment"):
        Firewall(
            tools=(),
            policy=base.firewall.policy,
            audit=base.audit,
            approvals=base.approvals,
            containment=Containment(),
            rate_limits=(RateLimitRule(limit="1/minute"),),
        )


def test_frozen_agent_runs_nothing_and_the_refusal_is_audited(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    box.containment.freeze(FreezeTarget(kind="agent", name="bot-1"), reason="spree", by="ops")
    the_call = call()
    result = box.firewall.run(the_call, box.rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.FROZEN
    assert box.seen == []
    [record] = box.rig.records(the_call.call_id)
    assert (record.code, record.details["stage"]) == ("frozen", "freeze")
    assert [r.event for r in box.rig.records() if r.event in ("freeze", "unfreeze")] == ["freeze"]
    box.containment.unfreeze(FreezeTarget(kind="agent", name="bot-1"), by="ops")
    assert isinstance(box.firewall.run(call(), box.rig.tool()), Executed)


def test_repeated_denials_trip_the_breaker_and_freeze_the_agent(tmp_path: Path) -> None:
    box = contained_rig(tmp_path, breaker=BreakerSettings(max_denials=3))
    codes = [box.firewall.run(call("pay"), box.rig.tool()) for _ in range(4)]
    assert all(isinstance(result, Deny) and result.code is DenyCode.POLICY for result in codes)
    after = box.firewall.run(call(), box.rig.tool())
    assert isinstance(after, Deny)
    assert after.code is DenyCode.FROZEN
    assert "circuit breaker" in after.reasons[0]
    [freeze] = [r for r in box.rig.records() if r.event == "freeze"]
    assert freeze.details["automatic"] is True


def test_budget_admits_refunds_until_spent_then_names_the_rule(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    results = [box.firewall.run(call("refund", amount=100), box.rig.tool()) for _ in range(4)]
    assert [type(r).__name__ for r in results] == ["Executed", "Executed", "Executed", "Deny"]
    denial = results[3]
    assert isinstance(denial, Deny)
    assert denial.code is DenyCode.BUDGET_EXCEEDED
    assert "300.00 per agent per 1 hour for tool 'refund'" in denial.reasons[0]
    [record] = box.rig.records(denial.call_id)
    assert record.code == "budget_exceeded"
    assert record.details["retry_after_s"] > 0


def test_a_denied_hold_gives_its_budget_back(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    with ScriptedApprover(box.rig.approvals, lambda _h: Verdict("deny", "carol")).running():
        result = box.firewall.run(call("refund", amount=250), box.rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.APPROVAL_DENIED
    assert budget_used(box) == 0


def test_an_expired_hold_gives_its_budget_back(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with freeze_time(start) as frozen:
        box = contained_rig(tmp_path)
        the_call = call("refund", amount=250)
        hold = box.firewall.guard(the_call)
        assert isinstance(hold, Hold)
        assert budget_used(box) == 25_000
        frozen.tick(timedelta(seconds=61))
        record = box.rig.approvals.wait(hold.hold_id)
        final = box.firewall.resolve_hold(the_call, hold, record)
        assert isinstance(final, Deny)
        assert final.code is DenyCode.APPROVAL_EXPIRED
        assert budget_used(box) == 0


def test_an_altered_call_does_not_release_the_approved_calls_budget(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    the_call = call("refund", amount=250)
    hold = box.firewall.guard(the_call)
    assert isinstance(hold, Hold)
    box.rig.approvals.approve(hold.hold_id, "alice")
    record = box.rig.approvals.wait(hold.hold_id)
    altered = the_call.model_copy(update={"args": {"amount": 5}})
    final = box.firewall.resolve_hold(altered, hold, record)
    assert isinstance(final, Deny)
    assert final.code is DenyCode.APPROVAL_MISMATCH
    assert budget_used(box) == 25_000


def test_a_pending_hold_in_return_mode_keeps_its_reservation(tmp_path: Path) -> None:
    box = contained_rig(tmp_path, settings=GateSettings(hold_mode="return"))
    result = box.firewall.run(call("refund", amount=250), box.rig.tool())
    assert isinstance(result, Hold)
    assert budget_used(box) == 25_000
    over = box.firewall.run(call("refund", amount=60), box.rig.tool())
    assert isinstance(over, Deny)
    assert over.code is DenyCode.BUDGET_EXCEEDED


@pytest.mark.parametrize(("fail_open", "low_risk_runs"), [(False, False), (True, True)])
def test_unreachable_redis_fails_closed_unless_low_risk_may_fail_open(
    tmp_path: Path, fail_open: bool, low_risk_runs: bool
) -> None:
    box = contained_rig(
        tmp_path,
        storage_url=f"redis://127.0.0.1:{closed_port()}/0",
        rate_limits=(RateLimitRule(limit="100/minute"),),
        limits=LimitSettings(fail_open_low_risk=fail_open, timeout_s=0.2),
    )
    low, high = call(), call("refund", amount=20)
    low_result = box.firewall.run(low, box.rig.tool("lookup"))
    high_result = box.firewall.run(high, box.rig.tool("refund"))
    assert isinstance(low_result, Executed) is low_risk_runs
    assert isinstance(high_result, Deny)
    assert high_result.code is DenyCode.LIMITER_ERROR
    assert "Redis at 127.0.0.1" in high_result.reasons[0]
    assert [r.code for r in box.rig.records(high.call_id)] == ["limiter_error"]
    blind = {r.call_id for r in box.rig.records() if r.event == "fail_open"}
    assert blind == ({low.call_id} if fail_open else set())


def test_a_call_approved_after_its_agent_was_frozen_does_not_run(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    the_call = call("refund", amount=250)

    def freeze_then_approve(_hold: object) -> Verdict:
        box.containment.freeze(FreezeTarget(kind="agent", name="bot-1"), reason="stop", by="ops")
        return Verdict("approve", "alice")

    with ScriptedApprover(box.rig.approvals, freeze_then_approve).running():
        result = box.firewall.run(the_call, box.rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.FROZEN
    assert box.seen == []
    last = box.rig.records(the_call.call_id)[-1]
    assert (last.event, last.code, last.details["stage"]) == ("decision", "frozen", "freeze")
    # The tool never started: the approval is not spent, and keeps its budget until the
    # hold expires unused (a resume after the freeze is lifted may still run it, once).
    hold = box.rig.approvals.for_call(the_call.key)
    assert hold is not None
    assert hold.state is HoldState.APPROVED
    assert budget_used(box) == 25_000


def test_lifting_an_automatic_freeze_gives_the_agent_a_fresh_count(tmp_path: Path) -> None:
    box = contained_rig(tmp_path, breaker=BreakerSettings(max_denials=1))
    for _ in range(2):
        box.firewall.run(call("pay"), box.rig.tool())
    box.containment.unfreeze(FreezeTarget(kind="agent", name="bot-1"), by="ops")
    box.firewall.run(call("pay"), box.rig.tool())
    assert isinstance(box.firewall.run(call(), box.rig.tool()), Executed)
