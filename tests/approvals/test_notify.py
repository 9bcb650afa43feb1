"""Redis pub/sub wake-ups: a waiter learns a decision at once; Redis trouble only slows it."""

from __future__ import annotations

import asyncio
import builtins
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from firewall.approvals import ApprovalService, HoldRecord, HoldState, SqlApprovalStore
from firewall.approvals.notify import Sleeper, notifier_from_url
from firewall.approvals.redis_notify import RedisNotifier
from firewall.audit.keyfiles import ensure_dev_key
from firewall.config import parse_config
from firewall.factory import build_firewall
from firewall.types import CallKey
from tests.approvals.helpers import GROUPS, RecordingSink, open_hold

pytestmark = pytest.mark.redis

LIVENESS_S = 30  # a waiter that was not woken sleeps an hour, so it would still be waiting
NEVER_S = 3600.0
DEAD_REDIS = "redis://127.0.0.1:1/0"


class WatchedStore:
    """A real store that signals once the waiter has read the hold (and so subscribed)."""

    def __init__(self, inner: SqlApprovalStore) -> None:
        self._inner = inner
        self.read = threading.Event()

    def create(self, record: HoldRecord) -> None:
        self._inner.create(record)

    def get(self, hold_id: str) -> HoldRecord | None:
        record = self._inner.get(hold_id)
        self.read.set()
        return record

    def list(self, state: HoldState | None = None) -> builtins.list[HoldRecord]:
        return self._inner.list(state)

    def for_call(self, key: CallKey) -> HoldRecord | None:
        return self._inner.for_call(key)

    def compare_and_set(self, old: HoldRecord, new: HoldRecord) -> bool:
        return self._inner.compare_and_set(old, new)


@pytest.fixture
def notifier(redis_url: str) -> Iterator[RedisNotifier]:
    """A notifier on the real Redis, on channels of this test only."""
    notifier = RedisNotifier(redis_url, prefix=f"test:{uuid.uuid4().hex}")
    yield notifier
    notifier.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlApprovalStore]:
    store = SqlApprovalStore(f"sqlite:///{tmp_path / 'approvals.db'}")
    yield store
    store.close()


def test_subscriber_wakes_when_its_hold_is_published(notifier: RedisNotifier) -> None:
    with notifier.subscribe("hold_a") as wakeup:
        notifier.publish("hold_a")
        assert wakeup.wait(LIVENESS_S) is True


def test_pattern_subscriber_wakes_for_any_hold(notifier: RedisNotifier) -> None:
    with notifier.subscribe(None) as wakeup:
        notifier.publish("hold_b")
        assert wakeup.wait(LIVENESS_S) is True


def test_subscriber_of_another_hold_is_not_woken(notifier: RedisNotifier) -> None:
    with notifier.subscribe("hold_c") as wakeup:
        notifier.publish("hold_d")
        assert wakeup.wait(0.2) is False


def test_unreachable_redis_degrades_to_sleeping_and_never_raises() -> None:
    notifier = RedisNotifier(DEAD_REDIS)
    try:
        notifier.publish("hold_e")
        with notifier.subscribe("hold_e") as wakeup:
            assert isinstance(wakeup, Sleeper)
            assert wakeup.wait(0.01) is False
    finally:
        notifier.close()


def test_no_url_means_no_notifier() -> None:
    assert notifier_from_url(None) is None
    assert notifier_from_url("") is None


def test_waiter_learns_of_a_decision_made_by_another_service_at_once(
    sqlite_store: SqlApprovalStore, notifier: RedisNotifier, redis_url: str
) -> None:
    """The approver's service shares only the store and Redis with the waiting agent."""
    watched = WatchedStore(sqlite_store)
    agent = ApprovalService(watched, RecordingSink(), GROUPS, notifier=notifier)
    approver_notifier = RedisNotifier(redis_url, prefix=notifier.prefix)
    approver = ApprovalService(sqlite_store, RecordingSink(), GROUPS, notifier=approver_notifier)
    _, record = open_hold(agent)
    results: list[HoldRecord] = []
    waiter = threading.Thread(
        target=lambda: results.append(
            agent.wait(record.hold_id, poll_initial_s=NEVER_S, poll_max_s=NEVER_S)
        ),
        daemon=True,
    )
    waiter.start()
    assert watched.read.wait(LIVENESS_S)
    approver.approve(record.hold_id, "alice")
    waiter.join(LIVENESS_S)
    approver_notifier.close()
    assert not waiter.is_alive(), "the waiter was not woken by the notification"
    assert [r.state for r in results] == [HoldState.APPROVED]


async def test_async_waiter_is_woken_without_blocking_the_loop(
    sqlite_store: SqlApprovalStore, notifier: RedisNotifier
) -> None:
    watched = WatchedStore(sqlite_store)
    service = ApprovalService(watched, RecordingSink(), GROUPS, notifier=notifier)
    _, record = open_hold(service)

    async def approve_once_waiting() -> None:
        while not watched.read.is_set():
            await asyncio.sleep(0.001)
        await asyncio.to_thread(service.approve, record.hold_id, "carol")

    approving = asyncio.create_task(approve_once_waiting())
    waiting = service.await_decision(record.hold_id, poll_initial_s=NEVER_S, poll_max_s=NEVER_S)
    decided = await asyncio.wait_for(waiting, LIVENESS_S)
    await approving
    assert (decided.state, decided.approvals) == (HoldState.APPROVED, ("carol",))


def test_build_firewall_wires_the_configured_notifier(redis_url: str, tmp_path: Path) -> None:
    """An agent built from firewall.toml with ``[holds] notify_url`` wakes on the service's news."""
    (tmp_path / "p.rego").write_text('package firewall\ndecision := {"outcome": "allow"}\n')
    config = parse_config(
        {
            "policy": {"dir": str(tmp_path)},
            "storage": {"url": f"sqlite:///{tmp_path / 'fw.db'}"},
            "audit": {"key_file": str(ensure_dev_key(tmp_path))},
            "holds": {"notify_url": redis_url},
            "tools": [{"name": "lookup", "scope": "crm:read"}],
        }
    )
    firewall = build_firewall(config)
    service_side = notifier_from_url(redis_url)
    try:
        assert isinstance(firewall.approvals.notifier, RedisNotifier)
        assert isinstance(service_side, RedisNotifier)
        with firewall.approvals.notifier.subscribe("hold_wired") as wakeup:
            service_side.publish("hold_wired")
            assert wakeup.wait(LIVENESS_S) is True
    finally:
        firewall.close()
        firewall.approvals.close()
        if service_side is not None:
            service_side.close()


def test_without_notify_url_the_firewall_polls(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text('package firewall\ndecision := {"outcome": "allow"}\n')
    config = parse_config(
        {
            "policy": {"dir": str(tmp_path)},
            "storage": {"url": f"sqlite:///{tmp_path / 'fw.db'}"},
            "audit": {"key_file": str(ensure_dev_key(tmp_path))},
            "tools": [{"name": "lookup", "scope": "crm:read"}],
        }
    )
    firewall = build_firewall(config)
    try:
        assert firewall.approvals.notifier is None
    finally:
        firewall.close()
        firewall.approvals.close()
