"""Waiting for a decision: backoff, other threads, other processes, expiry, the event loop."""

from __future__ import annotations

import asyncio
import builtins
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from freezegun import freeze_time

from firewall.approvals import ApprovalService, HoldRecord, HoldState, SqlApprovalStore
from firewall.approvals.waiting import Backoff
from firewall.audit.events import AuditEvent
from firewall.errors import ApprovalError
from tests.approvals.conftest import FREEZE_IGNORE
from tests.approvals.helpers import GROUPS, T0, RecordingSink, open_hold

SAFETY_TIMEOUT_S = 60  # only so that a broken waiter fails instead of hanging the suite

APPROVER_PROCESS = """
import sys
from firewall.approvals import ApprovalService, SqlApprovalStore
from firewall.errors import ApprovalError

class PrintingSink:
    def append(self, event):
        print(event.model_dump_json(), flush=True)

url, hold_id, approver = sys.argv[1:4]
with SqlApprovalStore(url) as store:
    service = ApprovalService(store, PrintingSink(), {"supervisors": ["alice", "carol"]})
    try:
        service.approve(hold_id, approver)
    except ApprovalError:
        sys.exit(3)
"""


class PolledStore:
    """A real store that signals once a waiter has read the hold (so it is waiting)."""

    def __init__(self, inner: SqlApprovalStore) -> None:
        self._inner = inner
        self.polled = threading.Event()

    def create(self, record: HoldRecord) -> None:
        self._inner.create(record)

    def get(self, hold_id: str) -> HoldRecord | None:
        record = self._inner.get(hold_id)
        self.polled.set()
        return record

    def list(self, state: HoldState | None = None) -> builtins.list[HoldRecord]:
        return self._inner.list(state)

    def compare_and_set(self, old: HoldRecord, new: HoldRecord) -> bool:
        return self._inner.compare_and_set(old, new)


def _approver_process(url: str, hold_id: str, approver: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", APPROVER_PROCESS, url, hold_id, approver]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def _events(process: subprocess.Popen[str]) -> list[AuditEvent]:
    stdout, _ = process.communicate(timeout=SAFETY_TIMEOUT_S)
    return [AuditEvent.model_validate_json(line) for line in stdout.splitlines()]


def test_backoff_doubles_up_to_the_maximum() -> None:
    backoff = Backoff(0.01, 0.05)
    assert [backoff.next_delay() for _ in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert not backoff.exhausted


def test_backoff_timeout_bounds_the_total_sleep() -> None:
    backoff = Backoff(0.1, 0.4, timeout_s=0.5)
    delays = [backoff.next_delay() for _ in range(3)]
    assert delays == pytest.approx([0.1, 0.2, 0.2])
    assert backoff.exhausted


@pytest.mark.parametrize(
    ("initial", "maximum", "timeout", "message"),
    [(0, 1, None, "poll_initial_s"), (1, 0.5, None, "poll_max_s"), (0.1, 1, -1, "timeout_s")],
)
def test_backoff_rejects_bad_settings(
    initial: float, maximum: float, timeout: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(initial, maximum, timeout)


def test_wait_returns_the_approval_another_thread_makes(
    store: SqlApprovalStore, audit: RecordingSink
) -> None:
    polled = PolledStore(store)
    service = ApprovalService(polled, audit, GROUPS)
    _, record = open_hold(service)

    def approve_once_waiting() -> None:
        polled.polled.wait(SAFETY_TIMEOUT_S)
        service.approve(record.hold_id, "alice")

    approver = threading.Thread(target=approve_once_waiting)
    approver.start()
    decided = service.wait(record.hold_id, timeout_s=SAFETY_TIMEOUT_S)
    approver.join()
    assert (decided.state, decided.approvals) == (HoldState.APPROVED, ("alice",))


def test_wait_returns_a_denial_at_once(service: ApprovalService) -> None:
    _, record = open_hold(service)
    service.deny(record.hold_id, "carol", "no")
    assert service.wait(record.hold_id).state is HoldState.DENIED


@pytest.mark.slow
def test_wait_returns_the_approval_another_process_makes(
    service: ApprovalService, db_url: str
) -> None:
    _, record = open_hold(service)
    process = _approver_process(db_url, record.hold_id, "alice")
    decided = service.wait(record.hold_id, timeout_s=SAFETY_TIMEOUT_S)
    events = _events(process)
    assert process.returncode == 0
    assert (decided.state, decided.approvals) == (HoldState.APPROVED, ("alice",))
    assert [(e.event, e.outcome) for e in events] == [("hold_decided", "approved")]


@pytest.mark.slow
def test_two_processes_approving_at_once_decide_once(service: ApprovalService, db_url: str) -> None:
    _, record = open_hold(service)
    processes = [_approver_process(db_url, record.hold_id, name) for name in ("alice", "carol")]
    outcomes = {}
    for process in processes:
        events = _events(process)
        outcomes[process.returncode] = events
    assert sorted(outcomes) == [0, 3]
    [decided], [refused] = outcomes[0], outcomes[3]
    final = service.get(record.hold_id)
    assert final is not None
    assert final.state is HoldState.APPROVED
    assert list(final.approvals) == decided.details["approvals"]
    assert refused.code == "not_pending"


def test_hold_expiring_while_waited_on_is_expired_never_approved(
    service: ApprovalService, store: SqlApprovalStore, audit: RecordingSink
) -> None:
    with freeze_time(T0, auto_tick_seconds=20, ignore=FREEZE_IGNORE):
        _, record = open_hold(service)
        decided = service.wait(record.hold_id, poll_max_s=0.02)
    assert decided.state is HoldState.EXPIRED
    assert decided.approvals == ()
    assert store.get(record.hold_id) == decided
    assert [event.outcome for event in audit.of("hold_decided")] == ["expired"]


def test_wait_with_a_timeout_returns_the_pending_hold(service: ApprovalService) -> None:
    _, record = open_hold(service)
    assert service.wait(record.hold_id, timeout_s=0.05).state is HoldState.PENDING


def test_waiting_for_an_unknown_hold_is_refused(service: ApprovalService) -> None:
    with pytest.raises(ApprovalError) as caught:
        service.wait("hold_nope")
    assert caught.value.code == "unknown_hold"


async def test_await_decision_lets_another_coroutine_approve(
    store: SqlApprovalStore, audit: RecordingSink
) -> None:
    """A waiter that blocked the loop would never see this approval (it comes from the loop)."""
    polled = PolledStore(store)
    service = ApprovalService(polled, audit, GROUPS)
    _, record = open_hold(service)

    async def approve_once_waiting() -> HoldRecord:
        while not polled.polled.is_set():
            await asyncio.sleep(0.001)
        return service.approve(record.hold_id, "alice")

    approving = asyncio.create_task(approve_once_waiting())
    decided = await service.await_decision(record.hold_id, timeout_s=SAFETY_TIMEOUT_S)
    assert (await approving).state is HoldState.APPROVED
    assert (decided.state, decided.approvals) == (HoldState.APPROVED, ("alice",))


async def test_await_decision_expires_an_overdue_hold(
    service: ApprovalService, audit: RecordingSink
) -> None:
    with freeze_time(T0, real_asyncio=True, ignore=FREEZE_IGNORE) as frozen:
        _, record = open_hold(service)
        frozen.tick(timedelta(minutes=5))
        decided = await service.await_decision(record.hold_id)
    assert decided.state is HoldState.EXPIRED
    assert [event.outcome for event in audit.of("hold_decided")] == ["expired"]


async def test_await_decision_with_a_timeout_returns_the_pending_hold(
    service: ApprovalService,
) -> None:
    _, record = open_hold(service)
    decided = await service.await_decision(record.hold_id, timeout_s=0.05)
    assert decided.state is HoldState.PENDING
