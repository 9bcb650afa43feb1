"""HoldRecord: built from a call and its hold, UTC times, and its state transitions."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from pydantic import ValidationError

from firewall.approvals import HoldRecord, HoldState
from tests.approvals.helpers import T0, TTL, make_call, make_hold


def _record(quorum: int = 1) -> HoldRecord:
    call = make_call()
    return HoldRecord.from_call(call, make_hold(call, expires_at=T0 + TTL, quorum=quorum), T0)


def test_from_call_binds_the_call_digest_and_what_approvers_see() -> None:
    call = make_call(amount=250, order="A-17")
    hold = make_hold(call, expires_at=T0 + TTL, quorum=2)
    record = HoldRecord.from_call(call, hold, T0, money_arg="amount")
    assert record.digest == call.binding_digest()
    assert (record.hold_id, record.call_id, record.tool) == (hold.hold_id, call.call_id, call.tool)
    assert record.args == {"amount": 250, "order": "A-17"}
    assert record.principal == call.principal.policy_view()
    assert (record.approvers, record.quorum, record.reasons) == ("supervisors", 2, hold.reasons)
    assert (record.state, record.version, record.amount) == (HoldState.PENDING, 0, 250)


def test_from_call_refuses_a_hold_made_for_another_call() -> None:
    hold = make_hold(make_call(), expires_at=T0 + TTL)
    with pytest.raises(ValueError, match="is for call"):
        HoldRecord.from_call(make_call(), hold, T0)


def test_times_are_normalised_to_utc() -> None:
    call = make_call()
    paris = timezone(timedelta(hours=1))
    record = HoldRecord.from_call(call, make_hold(call, expires_at=T0 + TTL), T0.astimezone(paris))
    assert record.created_at.tzinfo is not None
    assert record.created_at.utcoffset() == timedelta(0)
    assert record.created_at == T0


def test_naive_times_are_rejected() -> None:
    naive = _record().model_dump() | {"created_at": T0.replace(tzinfo=None)}
    with pytest.raises(ValidationError, match="timezone"):
        HoldRecord.model_validate(naive)


def test_requesters_are_the_operator_and_the_agent() -> None:
    assert _record().requesters == {"bob", "support-bot"}
    call = make_call(requested_by=None)
    record = HoldRecord.from_call(call, make_hold(call, expires_at=T0 + TTL), T0)
    assert record.requesters == {"support-bot"}


def test_approval_below_quorum_stays_pending_and_bumps_the_version() -> None:
    record = _record(quorum=2).with_approval("alice", T0)
    assert (record.state, record.approvals, record.version) == (HoldState.PENDING, ("alice",), 1)
    assert record.decided_at is None


def test_approval_reaching_quorum_approves() -> None:
    record = _record(quorum=2).with_approval("alice", T0).with_approval("carol", T0 + TTL / 2)
    assert record.state is HoldState.APPROVED
    assert record.decided_by == ("alice", "carol")
    assert (record.decided_at, record.version) == (T0 + TTL / 2, 2)


def test_denial_records_who_and_why() -> None:
    record = _record().with_denial("carol", "not today", T0)
    assert (record.state, record.decided_by) == (HoldState.DENIED, ("carol",))
    assert (record.decision_reason, record.decided_at) == ("not today", T0)


def test_expiry_of_an_unused_approval_keeps_its_decision_time() -> None:
    approved = _record().with_approval("alice", T0)
    expired = approved.with_expiry(T0 + TTL)
    assert (expired.state, expired.decided_at) == (HoldState.EXPIRED, T0)
    assert expired.decision_reason == "approval expired unused"
    assert _record().with_expiry(T0 + TTL).decision_reason == "expired"


def test_is_due_from_the_expiry_time_on() -> None:
    record = _record()
    assert not record.is_due(T0 + TTL - timedelta(microseconds=1))
    assert record.is_due(T0 + TTL)
