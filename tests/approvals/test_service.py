"""ApprovalService: who may decide, quorum, expiry, single use, CAS races, fail closed."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from sqlalchemy import create_engine, text

from firewall.approvals import ApprovalService, HoldRecord, HoldState, SqlApprovalStore
from firewall.audit.events import AuditEvent
from firewall.errors import ApprovalError, AuditError, ConfigError, StoreError
from tests.approvals.helpers import GROUPS, T0, TTL, RecordingSink, open_hold

pytestmark = pytest.mark.usefixtures("frozen")


def _refused(action: Callable[[], object]) -> ApprovalError:
    with pytest.raises(ApprovalError) as caught:
        action()
    return caught.value


def _state(service: ApprovalService, hold_id: str) -> HoldState | None:
    record = service.get(hold_id)
    return record.state if record else None


def _outcomes(audit: RecordingSink) -> list[str | None]:
    return [event.outcome for event in audit.of("hold_decided")]


def _refusal_codes(audit: RecordingSink) -> list[str | None]:
    return [event.code for event in audit.of("approval_refused")]


def test_open_stores_the_hold_and_audits_it(service: ApprovalService, audit: RecordingSink) -> None:
    call, record = open_hold(service, quorum=2)
    assert service.get(record.hold_id) == record
    assert service.pending() == [record]
    [created] = audit.of("hold_created")
    assert (created.call_id, created.tool, created.principal) == (
        call.call_id,
        "issue_refund",
        call.principal.policy_view(),
    )
    assert created.details["quorum"] == 2
    assert created.details["expires_at"] == (T0 + TTL).isoformat()


def test_approved_hold_runs_once_for_its_exact_call(
    service: ApprovalService, audit: RecordingSink
) -> None:
    call, record = open_hold(service)
    approved = service.approve(record.hold_id, "alice")
    assert (approved.state, approved.decided_by, approved.decided_at) == (
        HoldState.APPROVED,
        ("alice",),
        T0,
    )
    executed = service.consume(record.hold_id, call.binding_digest())
    assert executed.state is HoldState.EXECUTED
    again = _refused(lambda: service.consume(record.hold_id, call.binding_digest()))
    assert (again.code, again.hold_id) == ("already_used", record.hold_id)
    assert _outcomes(audit) == ["approved", "executed"]
    assert _refusal_codes(audit) == ["already_used"]


def test_a_use_given_back_leaves_the_approval_for_one_more_run(
    service: ApprovalService, audit: RecordingSink
) -> None:
    call, record = open_hold(service)
    service.approve(record.hold_id, "alice")
    executed = service.consume(record.hold_id, call.binding_digest())
    returned = service.give_back(executed)
    assert returned is not None
    assert returned.state is HoldState.APPROVED
    assert service.give_back(executed) is None  # that use is already undone
    again = service.consume(record.hold_id, call.binding_digest())
    assert again.state is HoldState.EXECUTED
    assert _refused(lambda: service.consume(record.hold_id, call.binding_digest())).code == (
        "already_used"
    )
    assert _outcomes(audit) == ["approved", "executed", "approval_returned", "executed"]


def test_only_an_executed_record_can_be_given_back(service: ApprovalService) -> None:
    _, record = open_hold(service)
    approved = service.approve(record.hold_id, "alice")
    with pytest.raises(ValueError, match="not executed"):
        service.give_back(approved)


def test_decision_audit_names_hold_approver_and_approvals(
    service: ApprovalService, audit: RecordingSink
) -> None:
    call, record = open_hold(service)
    service.approve(record.hold_id, "alice")
    [decided] = audit.of("hold_decided")
    assert (decided.call_id, decided.tool, decided.outcome) == (call.call_id, call.tool, "approved")
    assert decided.details == {
        "hold_id": record.hold_id,
        "approver": "alice",
        "reason": None,
        "approvals": ["alice"],
    }


def test_consume_with_another_calls_digest_is_refused_and_keeps_the_approval(
    service: ApprovalService, audit: RecordingSink
) -> None:
    call, record = open_hold(service)
    other, _ = open_hold(service)
    service.approve(record.hold_id, "alice")
    refusal = _refused(lambda: service.consume(record.hold_id, other.binding_digest()))
    assert refusal.code == "digest_mismatch"
    assert _state(service, record.hold_id) is HoldState.APPROVED
    assert service.consume(record.hold_id, call.binding_digest()).state is HoldState.EXECUTED
    assert _refusal_codes(audit) == ["digest_mismatch"]


def test_denied_hold_keeps_the_reason_and_never_runs(
    service: ApprovalService, audit: RecordingSink
) -> None:
    call, record = open_hold(service)
    denied = service.deny(record.hold_id, "carol", "customer already refunded")
    assert (denied.state, denied.decided_by) == (HoldState.DENIED, ("carol",))
    assert denied.decision_reason == "customer already refunded"
    assert _refused(lambda: service.consume(record.hold_id, call.binding_digest())).code == (
        "not_pending"
    )
    [decided] = audit.of("hold_decided")
    assert (decided.outcome, decided.details["reason"]) == ("denied", "customer already refunded")


def test_pending_hold_cannot_run(service: ApprovalService) -> None:
    call, record = open_hold(service)
    assert _refused(lambda: service.consume(record.hold_id, call.binding_digest())).code == (
        "not_pending"
    )


def test_approval_after_expiry_is_refused_and_expires_the_hold(
    service: ApprovalService, audit: RecordingSink, frozen: FrozenDateTimeFactory
) -> None:
    _, record = open_hold(service)
    frozen.tick(TTL)
    refusal = _refused(lambda: service.approve(record.hold_id, "alice"))
    assert refusal.code == "expired"
    stored = service.get(record.hold_id)
    assert stored is not None
    assert (stored.state, stored.approvals) == (HoldState.EXPIRED, ())
    assert [event.event for event in audit.events[1:]] == ["hold_decided", "approval_refused"]
    assert _outcomes(audit) == ["expired"]
    assert _refused(lambda: service.deny(record.hold_id, "alice", None)).code == "expired"


def test_approved_but_unused_hold_expires_at_its_expiry(
    service: ApprovalService, frozen: FrozenDateTimeFactory
) -> None:
    call, record = open_hold(service)
    service.approve(record.hold_id, "alice")
    frozen.tick(TTL)
    assert _refused(lambda: service.consume(record.hold_id, call.binding_digest())).code == (
        "expired"
    )
    assert _state(service, record.hold_id) is HoldState.EXPIRED


def test_second_click_is_refused_and_decides_nothing(
    service: ApprovalService, audit: RecordingSink
) -> None:
    _, record = open_hold(service)
    approved = service.approve(record.hold_id, "alice")
    assert _refused(lambda: service.approve(record.hold_id, "alice")).code == "not_pending"
    assert _refused(lambda: service.deny(record.hold_id, "carol", "no")).code == "not_pending"
    assert service.get(record.hold_id) == approved
    assert _outcomes(audit) == ["approved"]
    assert _refusal_codes(audit) == ["not_pending", "not_pending"]


def test_second_deny_is_refused(service: ApprovalService, audit: RecordingSink) -> None:
    _, record = open_hold(service)
    denied = service.deny(record.hold_id, "alice", "first")
    refusal = _refused(lambda: service.deny(record.hold_id, "alice", "second"))
    assert refusal.code == "not_pending"
    assert "already denied (decided by alice)" in str(refusal)
    assert service.get(record.hold_id) == denied
    assert _outcomes(audit) == ["denied"]


@pytest.mark.parametrize("requester", ["bob", "support-bot"])
def test_requester_may_not_decide_their_own_call(
    store: SqlApprovalStore, audit: RecordingSink, requester: str
) -> None:
    groups = {"supervisors": {"alice", "bob", "support-bot"}}
    service = ApprovalService(store, audit, groups)
    _, record = open_hold(service)
    refusal = _refused(lambda: service.approve(record.hold_id, requester))
    assert refusal.code == "self_approval"
    assert _refused(lambda: service.deny(record.hold_id, requester, None)).code == "self_approval"
    assert service.get(record.hold_id) == record
    [event, _] = audit.of("approval_refused")
    assert event.details == {"hold_id": record.hold_id, "approver": requester}


def test_approver_outside_the_group_is_refused(
    service: ApprovalService, audit: RecordingSink
) -> None:
    _, record = open_hold(service)
    refusal = _refused(lambda: service.approve(record.hold_id, "erin"))
    assert refusal.code == "not_an_approver"
    assert "'supervisors'" in str(refusal)
    assert service.get(record.hold_id) == record
    assert _refusal_codes(audit) == ["not_an_approver"]


def test_unconfigured_group_lets_nobody_decide(service: ApprovalService) -> None:
    _, record = open_hold(service, approvers="legal")
    refusal = _refused(lambda: service.approve(record.hold_id, "alice"))
    assert refusal.code == "not_an_approver"
    assert "approver group 'legal' is not configured" in str(refusal)


def test_hold_without_a_group_lets_nobody_decide(service: ApprovalService) -> None:
    _, record = open_hold(service, approvers=None)
    refusal = _refused(lambda: service.deny(record.hold_id, "alice", None))
    assert (refusal.code, service.get(record.hold_id)) == ("not_an_approver", record)


def test_unknown_hold_is_refused_and_audited(
    service: ApprovalService, audit: RecordingSink
) -> None:
    refusal = _refused(lambda: service.approve("hold_nope", "alice"))
    assert (refusal.code, refusal.hold_id) == ("unknown_hold", "hold_nope")
    assert _refused(lambda: service.consume("hold_nope", "sha256:" + "0" * 64)).code == (
        "unknown_hold"
    )
    [event, _] = audit.of("approval_refused")
    assert (event.call_id, event.details) == (None, {"hold_id": "hold_nope", "approver": "alice"})


def test_quorum_of_two_needs_two_distinct_approvers(
    service: ApprovalService, audit: RecordingSink
) -> None:
    _, record = open_hold(service, quorum=2)
    first = service.approve(record.hold_id, "alice")
    assert (first.state, first.approvals) == (HoldState.PENDING, ("alice",))
    assert _refused(lambda: service.approve(record.hold_id, "alice")).code == "already_approved"
    second = service.approve(record.hold_id, "carol")
    assert (second.state, second.decided_by) == (HoldState.APPROVED, ("alice", "carol"))
    assert _outcomes(audit) == ["approval_recorded", "approved"]
    assert audit.of("hold_decided")[1].details["approvals"] == ["alice", "carol"]


def test_one_denial_denies_a_quorum_hold_even_after_an_approval(
    service: ApprovalService,
) -> None:
    _, record = open_hold(service, quorum=2)
    service.approve(record.hold_id, "alice")
    denied = service.deny(record.hold_id, "carol", "too large")
    assert (denied.state, denied.approvals, denied.decided_by) == (
        HoldState.DENIED,
        ("alice",),
        ("carol",),
    )


def test_expire_due_expires_only_pending_holds_past_expiry(
    service: ApprovalService, audit: RecordingSink, frozen: FrozenDateTimeFactory
) -> None:
    _, due = open_hold(service)
    _, approved = open_hold(service)
    service.approve(approved.hold_id, "alice")
    frozen.tick(timedelta(minutes=1))
    _, later = open_hold(service)
    frozen.tick(TTL - timedelta(minutes=1))
    expired = service.expire_due()
    assert [record.hold_id for record in expired] == [due.hold_id]
    assert expired[0].state is HoldState.EXPIRED
    assert [record.hold_id for record in service.pending()] == [later.hold_id]
    assert _outcomes(audit) == ["approved", "expired"]
    assert service.expire_due(now=T0 + 2 * TTL)[0].hold_id == later.hold_id


class RacingStore:
    """A real store whose first read in each of ``parties`` threads waits for the others.

    So every racer reads the same version before any of them writes: a real CAS race.
    """

    def __init__(self, inner: SqlApprovalStore, parties: int) -> None:
        self._inner = inner
        self._barrier = threading.Barrier(parties, timeout=30)
        self._local = threading.local()

    def create(self, record: HoldRecord) -> None:
        self._inner.create(record)

    def get(self, hold_id: str) -> HoldRecord | None:
        record = self._inner.get(hold_id)
        if not getattr(self._local, "raced", False):
            self._local.raced = True
            self._barrier.wait()
        return record

    def list(self, state: HoldState | None = None) -> builtins.list[HoldRecord]:
        return self._inner.list(state)

    def compare_and_set(self, old: HoldRecord, new: HoldRecord) -> bool:
        return self._inner.compare_and_set(old, new)


def _race(service: ApprovalService, hold_id: str, approvers: list[str]) -> list[object]:
    results: list[object] = []

    def approve(approver: str) -> None:
        try:
            results.append(service.approve(hold_id, approver))
        except ApprovalError as exc:
            results.append(exc)

    threads = [threading.Thread(target=approve, args=(name,)) for name in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_approvers_of_a_quorum_one_hold_decide_once(
    store: SqlApprovalStore, audit: RecordingSink
) -> None:
    service = ApprovalService(RacingStore(store, parties=2), audit, GROUPS)
    _, record = open_hold(service)
    results = _race(service, record.hold_id, ["alice", "carol"])
    [winner] = [r for r in results if isinstance(r, HoldRecord)]
    [loser] = [r for r in results if isinstance(r, ApprovalError)]
    assert winner.state is HoldState.APPROVED
    assert loser.code == "not_pending"
    assert store.get(record.hold_id) == winner
    assert _outcomes(audit) == ["approved"]


def test_concurrent_approvers_of_a_quorum_two_hold_both_count(
    store: SqlApprovalStore, audit: RecordingSink
) -> None:
    service = ApprovalService(RacingStore(store, parties=2), audit, GROUPS)
    _, record = open_hold(service, quorum=2)
    results = _race(service, record.hold_id, ["alice", "carol"])
    assert all(isinstance(r, HoldRecord) for r in results)
    final = store.get(record.hold_id)
    assert final is not None
    assert final.state is HoldState.APPROVED
    assert sorted(final.approvals) == ["alice", "carol"]
    assert sorted(map(str, _outcomes(audit))) == ["approval_recorded", "approved"]


def test_store_failure_propagates_as_store_error(
    service: ApprovalService, db_url: str, audit: RecordingSink
) -> None:
    _, record = open_hold(service)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE approval_holds"))
    engine.dispose()
    with pytest.raises(StoreError):
        service.approve(record.hold_id, "alice")
    with pytest.raises(StoreError):
        service.wait(record.hold_id)
    assert audit.of("hold_decided") == []


class FailingSink:
    """An audit log that cannot take any record."""

    def append(self, event: AuditEvent) -> object:
        raise AuditError(f"audit log unavailable; lost {event.event}")


def test_refusal_that_cannot_be_audited_fails_closed(store: SqlApprovalStore) -> None:
    service = ApprovalService(store, FailingSink(), GROUPS)
    with pytest.raises(AuditError, match="approval_refused"):
        service.approve("hold_nope", "alice")


@pytest.mark.parametrize("members", ["alice", ["alice", ""], [1]])
def test_groups_must_be_lists_of_ids(store: SqlApprovalStore, members: object) -> None:
    with pytest.raises(ConfigError, match=r"approver_groups\.supervisors"):
        ApprovalService(store, RecordingSink(), {"supervisors": members})  # type: ignore[dict-item]
