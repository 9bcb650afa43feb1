"""When a shared store is down: medium risk and above fail closed; low risk only if configured."""

from __future__ import annotations

import pytest

from firewall.containment.outage import OutagePolicy
from firewall.stages.base import CallContext
from firewall.types import DenyCode, Principal, Risk, ToolCall

CALL = ToolCall(tool="t", args={}, principal=Principal(agent_id="a", tenant="t"), session_id="s-1")
DOWN = ConnectionError("refused")


def refusal_of(policy: OutagePolicy, risk: Risk | None) -> str | None:
    denial = policy.refusal(CallContext(call=CALL), "rate limiter", "Redis at h:1", DOWN, risk)
    if denial is None:
        return None
    assert denial.code is DenyCode.LIMITER_ERROR
    return denial.reasons[0]


@pytest.mark.parametrize("risk", [Risk.MEDIUM, Risk.HIGH, Risk.CRITICAL, None])
def test_medium_risk_and_above_always_fail_closed(risk: Risk | None) -> None:
    reason = refusal_of(OutagePolicy(fail_open_low_risk=True), risk)
    assert reason is not None
    assert reason.startswith("rate limiter unavailable (Redis at h:1: ConnectionError)")
    assert "only low-risk calls may fail open" in reason


def test_low_risk_fails_closed_by_default() -> None:
    reason = refusal_of(OutagePolicy(), Risk.LOW)
    assert reason is not None
    assert "fail_open_low_risk is off" in reason


def test_low_risk_fails_open_when_configured_and_is_reported() -> None:
    notes: list[str] = []
    policy = OutagePolicy(
        fail_open_low_risk=True, on_fail_open=lambda _ctx, note: notes.append(note)
    )
    assert refusal_of(policy, Risk.LOW) is None
    assert notes == [
        "rate limiter unavailable (Redis at h:1: ConnectionError);"
        " low-risk call admitted (fail_open_low_risk)"
    ]


def test_a_fail_open_that_cannot_be_audited_is_refused() -> None:
    def unaudited(_ctx: CallContext, _note: str) -> None:
        raise OSError("audit down")

    reason = refusal_of(OutagePolicy(fail_open_low_risk=True, on_fail_open=unaudited), Risk.LOW)
    assert reason is not None
    assert "fail-open could not be audited" in reason
