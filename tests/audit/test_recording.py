"""What the gate records: decisions with their arguments, personal ones marked."""

from __future__ import annotations

from datetime import UTC, datetime

from firewall.canonical import canonical_json
from firewall.recording import MAX_AUDITED_ARGS_BYTES, decision_event, outcome_event
from firewall.stages.base import CallContext
from firewall.types import Allow, Deny, DenyCode, Hold, Principal, ToolCall, ToolSpec

AGENT = Principal(agent_id="bot", tenant="acme", on_behalf_of="customer:c-100")
SPEC = ToolSpec(name="issue_refund", scope="refunds:write", personal_args=("email",))
CALL = ToolCall(
    tool="issue_refund",
    args={"order_id": "o-1", "amount": 40, "email": "j@x.org"},
    principal=AGENT,
    session_id="s-1",
)


def context(call: ToolCall = CALL, spec: ToolSpec | None = SPEC) -> CallContext:
    return CallContext(call=call, spec=spec, args_json=canonical_json(call.args), stage="decided")


def test_a_decision_records_args_principal_revision_and_a_decision_id() -> None:
    event = decision_event(context(), Allow(call_id=CALL.call_id), "sha256:rev")
    assert (event.event, event.outcome, event.policy_revision) == (
        "decision",
        "allow",
        "sha256:rev",
    )
    assert event.args == CALL.args
    assert event.personal_args == ("email",)
    assert event.principal == AGENT.policy_view()
    assert event.decision_id is not None
    assert event.decision_id.startswith("dec_")


def test_every_decision_gets_its_own_id() -> None:
    first = decision_event(context(), Allow(call_id=CALL.call_id), "r")
    second = decision_event(context(), Allow(call_id=CALL.call_id), "r")
    assert first.decision_id != second.decision_id


def test_a_denial_records_code_and_reasons() -> None:
    denial = Deny(
        call_id=CALL.call_id, code=DenyCode.POLICY, reasons=("too much",), retry_after_s=2.5
    )
    event = decision_event(context(), denial, "r")
    assert (event.outcome, event.code, event.reasons) == ("deny", "policy", ("too much",))
    assert event.details["retry_after_s"] == 2.5


def test_a_hold_records_who_may_approve_and_until_when() -> None:
    hold = Hold(
        call_id=CALL.call_id,
        hold_id="hold_1",
        approvers="supervisors",
        quorum=2,
        expires_at=datetime(2025, 1, 31, tzinfo=UTC),
        reasons=("big refund",),
    )
    event = decision_event(context(), hold, "r")
    assert event.details["hold_id"] == "hold_1"
    assert (event.details["quorum"], event.reasons) == (2, ("big refund",))


def test_without_a_tool_spec_every_argument_is_personal() -> None:
    event = decision_event(context(spec=None), Allow(call_id=CALL.call_id), "r")
    assert event.personal_args == ("amount", "email", "order_id")


def test_arguments_that_were_not_json_are_not_recorded() -> None:
    ctx = context()
    ctx.args_json = b""
    event = decision_event(ctx, Allow(call_id=CALL.call_id), "r")
    assert (event.args, event.personal_args) == (None, ())


def test_oversized_arguments_are_left_out_with_their_size() -> None:
    big = ToolCall(
        tool="issue_refund",
        args={"note": "x" * MAX_AUDITED_ARGS_BYTES},
        principal=AGENT,
        session_id="s-1",
    )
    event = decision_event(context(big), Allow(call_id=big.call_id), "r")
    assert event.args is None
    assert str(event.details["args_omitted"]).endswith(" bytes")


def test_an_outcome_names_the_error_type_only() -> None:
    event = outcome_event(CALL, "error", "TimeoutError")
    assert (event.event, event.outcome, event.details) == (
        "outcome",
        "error",
        {"error": "TimeoutError"},
    )
    assert event.args is None
