"""HoldAuditor: every refusal is audited before it is raised, with a message naming why."""

from __future__ import annotations

import re

import pytest

from firewall.approvals import HoldRecord, HoldState
from firewall.approvals.auditing import HoldAuditor
from firewall.errors import ApprovalError
from tests.approvals.helpers import T0, TTL, RecordingSink, make_call, make_hold


def _record() -> HoldRecord:
    call = make_call()
    return HoldRecord.from_call(call, make_hold(call, expires_at=T0 + TTL), T0)


def test_refusal_is_appended_before_it_is_raised() -> None:
    sink = RecordingSink()
    record = _record()
    with pytest.raises(ApprovalError) as caught:
        HoldAuditor(sink).refuse("self_approval", "no", record.hold_id, "bob", record)
    assert (caught.value.code, caught.value.hold_id) == ("self_approval", record.hold_id)
    [event] = sink.events
    assert (event.event, event.code, event.call_id, event.tool) == (
        "approval_refused",
        "self_approval",
        record.call_id,
        record.tool,
    )
    assert event.details == {"hold_id": record.hold_id, "approver": "bob"}


@pytest.mark.parametrize(
    ("record", "code", "message"),
    [
        (_record(), "not_pending", "is still pending; cannot run it"),
        (
            _record().with_denial("carol", "no", T0),
            "not_pending",
            "was already denied (decided by carol); cannot run it",
        ),
        (_record().with_expiry(T0 + TTL), "expired", "expired at 2025-03-01T12:05:00+00:00"),
    ],
    ids=["pending", "denied", "expired"],
)
def test_refusing_a_settled_hold_names_its_state(
    record: HoldRecord, code: str, message: str
) -> None:
    sink = RecordingSink()
    with pytest.raises(ApprovalError, match=re.escape(message)) as caught:
        HoldAuditor(sink).refuse_settled(record, None, "run")
    assert caught.value.code == code
    assert [event.code for event in sink.events] == [code]


def test_decision_event_carries_the_approvals_and_reason() -> None:
    sink = RecordingSink()
    record = _record().with_denial("carol", "duplicate", T0)
    HoldAuditor(sink).decided(record, HoldState.DENIED.value, "carol")
    [event] = sink.events
    assert (event.event, event.outcome) == ("hold_decided", "denied")
    assert event.details == {
        "hold_id": record.hold_id,
        "approver": "carol",
        "reason": "duplicate",
        "approvals": [],
    }
