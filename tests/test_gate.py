"""The pipeline end to end on real stores: decide, audit before effect, hold, run, audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from firewall.errors import AuditError, PolicyError
from firewall.gate import Executed
from firewall.settings import GateSettings
from firewall.stages.limits import RateLimitRule
from firewall.testing.approver import ScriptedApprover, Verdict, always
from firewall.types import Allow, Deny, DenyCode, Hold, Principal, ToolCall
from tests.gate_helpers import AGENT, call, make_rig


def test_allowed_call_runs_after_its_decision_is_durable(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    the_call = call()
    seen_before_run: list[str] = []

    def execute() -> str:
        seen_before_run.extend(r.event for r in rig.records(the_call.call_id))
        return "ok"

    result = rig.firewall.run(the_call, execute)
    assert isinstance(result, Executed)
    assert result.value == "ok"
    assert seen_before_run == ["decision"]
    events = [(r.event, r.outcome) for r in rig.records(the_call.call_id)]
    assert events == [("decision", "allow"), ("outcome", "ok")]


def test_default_stage_order_is_freeze_validate_tokens_scope_policy_totals_limits_budget(
    tmp_path: Path,
) -> None:
    names = [stage.name for stage in make_rig(tmp_path).firewall.stages]
    assert names == [
        "freeze",
        "known_tool",
        "valid_args",
        "personal_data",
        "scope",
        "policy",
        "totals",
        "rate_limit",
        "budget",
    ]


def test_unknown_tool_is_denied_and_audited(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    the_call = call("delete_everything")
    result = rig.firewall.run(the_call, rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.UNKNOWN_TOOL
    assert "delete_everything" in result.reasons[0]
    assert rig.ran == []
    [record] = rig.records(the_call.call_id)
    assert (record.outcome, record.code) == ("deny", "unknown_tool")


def test_bad_args_name_the_field_and_are_audited(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    the_call = call(customer_id=42)
    result = rig.firewall.run(the_call, rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.INVALID_ARGS
    assert "'customer_id'" in result.reasons[0]
    assert "not of type 'string'" in result.reasons[0]
    [record] = rig.records(the_call.call_id)
    assert record.code == "invalid_args"
    assert record.reasons == result.reasons


def test_unexpected_and_missing_args_are_refused(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    extra = rig.firewall.guard(call(customer_id="c-1", sql="drop table"))
    missing = rig.firewall.guard(
        ToolCall(tool="lookup", args={}, principal=AGENT, session_id="s-1")
    )
    assert isinstance(extra, Deny)
    assert "sql" in extra.reasons[0]
    assert isinstance(missing, Deny)
    assert "customer_id" in missing.reasons[0]


def test_args_that_are_not_json_are_refused(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    result = rig.firewall.guard(call("refund", amount=float("nan")))
    assert isinstance(result, Deny)
    assert result.code is DenyCode.INVALID_ARGS
    assert "not representable as JSON" in result.reasons[0]


def test_missing_scope_is_denied_before_the_policy_is_asked(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    asked: list[object] = []
    engine = rig.firewall.policy
    original = engine.evaluate
    engine.evaluate = lambda doc: asked.append(doc) or original(doc)  # type: ignore[method-assign]
    reader = Principal(agent_id="bot-2", tenant="acme", scopes=frozenset({"crm:read"}))
    paying = ToolCall(tool="pay", args={}, principal=reader, session_id="s-1")
    result = rig.firewall.run(paying, rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.MISSING_SCOPE
    assert "payments:write" in result.reasons[0]
    assert asked == []


def test_wildcard_scope_covers_its_family(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    crm_admin = Principal(agent_id="bot-3", tenant="acme", scopes=frozenset({"crm:*"}))
    the_call = ToolCall(
        tool="lookup", args={"customer_id": "c-1"}, principal=crm_admin, session_id="s-1"
    )
    assert isinstance(rig.firewall.guard(the_call), Allow)


def test_policy_deny_reaches_the_caller_with_its_reasons(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    result = rig.firewall.run(call("pay"), rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.POLICY
    assert result.reasons == ("payments are closed today",)
    assert rig.ran == []


def test_policy_engine_failure_fails_closed(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    def broken(_doc: object) -> object:
        raise PolicyError("engine exploded")

    rig.firewall.policy.evaluate = broken  # type: ignore[method-assign,assignment]
    the_call = call()
    result = rig.firewall.run(the_call, rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.POLICY_ERROR
    assert rig.ran == []
    assert rig.records(the_call.call_id)[0].code == "policy_error"


def test_undefined_policy_decision_is_a_deny(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy="package firewall\n\nother := 1\n")
    result = rig.firewall.run(call(), rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.POLICY_ERROR
    assert "decision" in result.reasons[0]
    assert rig.ran == []


def test_malformed_policy_decision_is_a_deny(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy='package firewall\n\ndecision := {"outcome": "maybe"}\n')
    result = rig.firewall.run(call(), rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.POLICY_ERROR
    assert rig.ran == []


def test_rate_limit_denial_says_when_to_retry(tmp_path: Path) -> None:
    rule = RateLimitRule(tool="lookup", per="agent", limit="2/minute")
    rig = make_rig(tmp_path, rate_limits=(rule,))
    results = [rig.firewall.run(call(), rig.tool()) for _ in range(3)]
    assert [type(r).__name__ for r in results] == ["Executed", "Executed", "Deny"]
    denial = results[2]
    assert isinstance(denial, Deny)
    assert denial.code is DenyCode.RATE_LIMITED
    assert denial.retry_after_s is not None
    assert 0 < denial.retry_after_s <= 60
    assert "Retry after" in denial.message()


def test_audit_failure_means_the_tool_does_not_run(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    def refuse(_event: object) -> object:
        raise AuditError("disk full")

    rig.firewall.audit = type("BrokenAudit", (), {"append": staticmethod(refuse)})()
    result = rig.firewall.run(call(), rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.STORE_ERROR
    assert rig.ran == []


def test_tool_error_is_audited_and_propagates(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    the_call = call()

    def explode() -> str:
        raise RuntimeError("backend down")

    with pytest.raises(RuntimeError, match="backend down"):
        rig.firewall.run(the_call, explode)
    outcome = rig.records(the_call.call_id)[-1]
    assert (outcome.event, outcome.outcome) == ("outcome", "error")
    assert outcome.details == {"error": "RuntimeError"}


def test_held_call_runs_once_approved_by_a_supervisor(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    the_call = call("refund", amount=500)
    with ScriptedApprover(rig.approvals, always("approve", "alice")).running():
        result = rig.firewall.run(the_call, rig.tool("refunded"))
    assert isinstance(result, Executed)
    assert result.hold_id is not None
    assert rig.ran == ["refunded"]
    events = [r.event for r in rig.records(the_call.call_id)]
    assert events[:2] == ["hold_created", "decision"]
    assert "hold_decided" in events
    assert events[-2:] == ["decision", "outcome"]
    assert rig.records(the_call.call_id)[1].outcome == "hold"
    assert rig.records(the_call.call_id)[-2].outcome == "allow"


def test_the_decision_record_before_an_approved_call_runs_names_its_approvers(
    tmp_path: Path,
) -> None:
    """The gate's own durable record says who approved, whatever became of theirs."""
    rig = make_rig(tmp_path)
    the_call = call("refund", amount=500)
    with ScriptedApprover(rig.approvals, always("approve", "alice")).running():
        rig.firewall.run(the_call, rig.tool("refunded"))
    final = rig.records(the_call.call_id)[-2]
    assert (final.event, final.outcome, final.details["stage"]) == ("decision", "allow", "approval")
    assert final.details["hold_state"] == "approved"
    assert final.details["decided_by"] == ["alice"]
    assert final.details["decided_at"]


def test_held_call_denied_by_a_supervisor_does_not_run(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    verdict = Verdict("deny", "carol", "not today")
    with ScriptedApprover(rig.approvals, lambda _hold: verdict).running():
        result = rig.firewall.run(call("refund", amount=500), rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.APPROVAL_DENIED
    assert result.reasons == ("denied by carol: not today",)
    assert rig.ran == []


def test_expired_hold_is_refused_never_approved(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with freeze_time(start) as frozen:
        rig = make_rig(tmp_path)
        the_call = call("refund", amount=500)
        decision = rig.firewall.guard(the_call)
        assert isinstance(decision, Hold)
        assert decision.expires_at == start + timedelta(seconds=60)
        frozen.tick(timedelta(seconds=61))
        record = rig.approvals.wait(decision.hold_id)
        final = rig.firewall.resolve_hold(the_call, decision, record)
    assert isinstance(final, Deny)
    assert final.code is DenyCode.APPROVAL_EXPIRED
    assert "expired" in final.reasons[0]


def test_approval_binds_to_the_exact_call(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    the_call = call("refund", amount=500)
    decision = rig.firewall.guard(the_call)
    assert isinstance(decision, Hold)
    rig.approvals.approve(decision.hold_id, "alice")
    record = rig.approvals.wait(decision.hold_id)
    altered = the_call.model_copy(update={"args": {"amount": 5000}})
    final = rig.firewall.resolve_hold(altered, decision, record)
    assert isinstance(final, Deny)
    assert final.code is DenyCode.APPROVAL_MISMATCH


def test_return_mode_hands_back_the_pending_hold(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, settings=GateSettings(hold_mode="return"))
    result = rig.firewall.run(call("refund", amount=500), rig.tool())
    assert isinstance(result, Hold)
    assert result.approvers == "supervisors"
    assert "pending approval" in result.message()
    assert rig.ran == []


async def test_async_twin_runs_allowed_and_refuses_denied(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    async def execute() -> str:
        await asyncio.sleep(0)
        return "async ok"

    allowed = await rig.firewall.arun(call(), execute)
    denied = await rig.firewall.arun(call("pay"), execute)
    assert isinstance(allowed, Executed)
    assert allowed.value == "async ok"
    assert isinstance(denied, Deny)


async def test_async_hold_waits_without_blocking_the_loop(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    ticks: list[int] = []

    async def ticker() -> None:
        for i in range(5):
            ticks.append(i)
            await asyncio.sleep(0.01)

    async def execute() -> str:
        return "refunded"

    with ScriptedApprover(rig.approvals, always("approve", "alice")).running():
        result, _ = await asyncio.gather(
            rig.firewall.arun(call("refund", amount=500), execute), ticker()
        )
    assert isinstance(result, Executed)
    assert ticks == [0, 1, 2, 3, 4]
