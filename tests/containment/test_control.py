"""``Containment``: freezes and unfreezes are audited; breaker trips are audited and alerted."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from firewall.containment.control import Containment, limiter_storage
from firewall.containment.freeze import FreezeEntry, FreezeTarget
from firewall.containment.settings import BreakerSettings, LimitSettings
from firewall.errors import AuditError, ConfigError
from firewall.stages.base import CallContext
from firewall.stages.limits import RateLimitCheck, RateLimitRule
from firewall.types import Deny, DenyCode, Principal, ToolCall, ToolSpec
from tests.containment.helpers import ListAudit, closed_port

BOT = Principal(agent_id="bot-1", tenant="acme")
AGENT = FreezeTarget(kind="agent", name="bot-1")
LOOKUP = ToolSpec(name="crm_lookup", scope="crm:read")


def ctx() -> CallContext:
    return CallContext(call=ToolCall(tool="issue_refund", args={}, principal=BOT, session_id="s-1"))


def denied(context: CallContext) -> Deny:
    return context.deny(DenyCode.POLICY, "no")


def test_freeze_stops_the_agent_and_is_audited() -> None:
    audit = ListAudit()
    control = Containment(audit=audit)
    control.freeze(AGENT, reason="refund spree", by="alice")
    assert control.freezes.matching(BOT) is not None
    [event] = audit.of("freeze")
    assert event.reasons == ("refund spree",)
    assert event.details["target"] == "agent:bot-1"
    assert event.details["by"] == "alice"
    assert event.details["automatic"] is False


def test_unfreeze_is_audited_then_lifted() -> None:
    audit = ListAudit()
    control = Containment(audit=audit)
    control.freeze(AGENT, reason="x", by="alice")
    assert control.unfreeze(AGENT, by="carol", reason="fixed") is True
    assert control.freezes.matching(BOT) is None
    [event] = audit.of("unfreeze")
    assert (event.details["by"], event.reasons) == ("carol", ("fixed",))
    assert control.unfreeze(AGENT, by="carol") is False


def test_a_freeze_stands_even_if_the_audit_log_is_down() -> None:
    control = Containment(audit=ListAudit(broken=True))
    with pytest.raises(AuditError):
        control.freeze(AGENT, reason="x", by="alice")
    assert control.freezes.matching(BOT) is not None


def test_an_unaudited_unfreeze_does_not_lift_the_freeze() -> None:
    audit = ListAudit()
    control = Containment(audit=audit)
    control.freeze(AGENT, reason="x", by="alice")
    audit.broken = True
    with pytest.raises(AuditError):
        control.unfreeze(AGENT, by="carol")
    assert control.freezes.matching(BOT) is not None


def test_frozen_lists_freezes_in_target_order() -> None:
    control = Containment()
    control.freeze(FreezeTarget(kind="tenant", name="acme"), reason="t", by="ops")
    control.freeze(FreezeTarget(kind="all"), reason="a", by="ops")
    assert [entry.target for entry in control.frozen()] == ["all", "tenant:acme"]


def test_breaker_trip_is_audited_and_alerted() -> None:
    audit, alerts = ListAudit(), list[FreezeEntry]()
    control = Containment(audit=audit, alert=alerts.append, breaker=BreakerSettings(max_denials=1))
    for _ in range(2):
        context = ctx()
        control.after_denial(context, denied(context))
    [event] = audit.of("freeze")
    assert event.details["automatic"] is True
    assert [alert.target for alert in alerts] == ["agent:bot-1"]


def test_a_failing_alert_hook_is_logged_not_raised() -> None:
    def broken_hook(_entry: FreezeEntry) -> None:
        raise RuntimeError("slack down")

    control = Containment(alert=broken_hook, breaker=BreakerSettings(max_denials=1))
    with capture_logs() as logs:
        for _ in range(2):
            context = ctx()
            control.after_denial(context, denied(context))
    assert control.freezes.matching(BOT) is not None
    assert "freeze_alert_failed" in [log["event"] for log in logs]


def test_a_low_risk_call_admitted_while_redis_is_down_is_audited() -> None:
    audit, url = ListAudit(), f"redis://127.0.0.1:{closed_port()}/0"
    settings = LimitSettings(fail_open_low_risk=True, timeout_s=0.2)
    control = Containment(storage_url=url, audit=audit, settings=settings)
    check = RateLimitCheck(
        [RateLimitRule(limit="5/minute")],
        url,
        storage=control.limiter_storage,
        outage=control.outage,
    )
    context = ctx()
    context.spec = LOOKUP
    assert check.check(context) is None
    [event] = audit.of("fail_open")
    assert (event.call_id, event.outcome) == (context.call.call_id, "allow")
    assert "rate limiter unavailable (Redis at 127.0.0.1" in event.reasons[0]
    assert "admitted (fail_open_low_risk)" in event.reasons[0]


def test_release_failures_are_logged_not_raised() -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    control = Containment(storage_url=url, settings=LimitSettings(timeout_s=0.2))
    with capture_logs() as logs:
        control.release("call_1", "unheld")
    assert "budget_release_failed" in [log["event"] for log in logs]


def test_only_synchronous_limits_storages_are_accepted() -> None:
    with pytest.raises(ConfigError, match="limits_url"):
        limiter_storage("async+memory://", LimitSettings())
