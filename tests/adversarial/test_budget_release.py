"""Issue 12, class 8: money given back that was spent.

A budget reservation may be given back only for a call that provably never ran, and only
once; an approval is spent only by the run it authorises. Attacked from outside: the
public gate API (``guard``, ``resolve_hold``, ``run_allowed``), records read from the
approval store, forged records, another tenant reusing a call id, and a Redis server of
the test's own that is killed at the worst moment.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from freezegun import freeze_time

from firewall.approvals.models import HoldRecord, HoldState
from firewall.audit.events import AuditEvent, AuditSink
from firewall.containment.settings import BudgetRule, LimitSettings
from firewall.errors import AuditError
from firewall.gate import Executed
from firewall.stages.budgets import bucket_of
from firewall.types import Allow, Deny, DenyCode, Hold, Principal, ToolCall
from tests.containment.helpers import OwnRedis, delete_prefix
from tests.containment.rig import AGENT, Contained, contained_rig

ACME_BUDGET = BudgetRule(tool="refund", per="tenant", amount=Decimal(300), window="1 hour")
GLOBEX = Principal(
    agent_id="bot-9",
    tenant="globex",
    scopes=frozenset({"refunds:write", "crm:read"}),
    requested_by="mallory",
)


def refund(amount: float, *, principal: Principal = AGENT, call_id: str | None = None) -> ToolCall:
    """A refund call; amounts above 100 are held for a supervisor by the rig's policy."""
    fields = {"call_id": call_id} if call_id else {}
    return ToolCall(
        tool="refund", args={"amount": amount}, principal=principal, session_id="s-1", **fields
    )


def held(box: Contained, call: ToolCall) -> Hold:
    """Guard ``call`` and return its hold (the test fails if it was not held)."""
    decision = box.firewall.guard(call)
    assert isinstance(decision, Hold), decision
    return decision


def stored(box: Contained, hold: Hold) -> HoldRecord:
    """The hold as the approval store has it now."""
    record = box.rig.approvals.get(hold.hold_id)
    assert record is not None
    return record


def hold_of(record: HoldRecord) -> Hold:
    """The hold decision a stored record stands for (what a resumed adapter rebuilds)."""
    return Hold(
        call_id=record.call_id,
        hold_id=record.hold_id,
        approvers=record.approvers,
        quorum=record.quorum,
        expires_at=record.expires_at,
        reasons=record.reasons,
    )


def approved_and_run(box: Contained, call: ToolCall) -> Hold:
    """Hold ``call``, approve it, resolve it and run it once; return its hold."""
    hold = held(box, call)
    box.rig.approvals.approve(hold.hold_id, "alice")
    decision = box.firewall.resolve_hold(call, hold, stored(box, hold))
    assert isinstance(decision, Allow), decision
    result = box.firewall.run_allowed(call, box.rig.tool(call.call_id), hold_id=hold.hold_id)
    assert isinstance(result, Executed), result
    return hold


def reserved(box: Contained, principal: Principal = AGENT) -> int:
    """Cents of ``principal``'s tenant budget now counted (reserved or spent)."""
    bucket = bucket_of(ACME_BUDGET, refund(1, principal=principal), "budgets[0]")
    return box.containment.ledger.used(bucket)


@pytest.fixture(params=["memory", "redis"])
def box(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Contained]:
    """A firewall with a 300-per-tenant refund budget, on the memory or the Redis ledger."""
    if request.param == "memory":
        made = contained_rig(tmp_path, budgets=(ACME_BUDGET,))
        yield made
        made.firewall.close()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix = f"fwadv{uuid.uuid4().hex[:12]}"
    made = contained_rig(
        tmp_path, storage_url=url, budgets=(ACME_BUDGET,), limits=LimitSettings(key_prefix=prefix)
    )
    yield made
    made.firewall.close()
    delete_prefix(url, prefix)


# -- an executed hold -----------------------------------------------------------------------


def test_re_resolving_an_executed_hold_gives_no_money_back(box: Contained) -> None:
    call = refund(250)
    hold = approved_and_run(box, call)
    for _ in range(5):  # every worker that re-runs the paused node resolves it again
        again = box.firewall.resolve_hold(call, hold, stored(box, hold))
        assert isinstance(again, Deny)
    assert reserved(box) == 25_000, "the 250 that ran stays counted"
    assert box.seen == [call.call_id]


def test_re_resolving_an_executed_hold_answers_already_used_not_expired(box: Contained) -> None:
    call = refund(250)
    hold = approved_and_run(box, call)
    again = box.firewall.resolve_hold(call, hold, stored(box, hold))
    assert isinstance(again, Deny)
    assert again.code is DenyCode.APPROVAL_USED
    assert "already used" in again.message()
    assert "expired" not in again.message()


def test_a_stale_approved_record_resolved_after_the_run_releases_nothing(box: Contained) -> None:
    call = refund(250)
    hold = held(box, call)
    approved = box.rig.approvals.approve(hold.hold_id, "alice")
    assert isinstance(box.firewall.resolve_hold(call, hold, approved), Allow)
    box.firewall.run_allowed(call, box.rig.tool(), hold_id=hold.hold_id)
    late = box.firewall.resolve_hold(call, hold, approved)  # a worker still holding the old view
    assert isinstance(late, Deny)
    assert late.code is DenyCode.APPROVAL_USED
    assert reserved(box) == 25_000


def test_an_executed_hold_passed_off_as_expired_releases_nothing(box: Contained) -> None:
    call = refund(250)
    hold = approved_and_run(box, call)
    forged = stored(box, hold).model_copy(update={"state": HoldState.EXPIRED})
    assert isinstance(box.firewall.resolve_hold(call, hold, forged), Deny)
    assert reserved(box) == 25_000


# -- a pending hold -------------------------------------------------------------------------


def test_a_premature_resolve_releases_nothing_and_the_approved_call_counts_once(
    box: Contained,
) -> None:
    call = refund(250)
    hold = held(box, call)
    early = box.firewall.resolve_hold(call, hold, stored(box, hold))
    assert isinstance(early, Deny)
    assert early.code is DenyCode.APPROVAL_PENDING
    box.rig.approvals.approve(hold.hold_id, "alice")
    assert isinstance(box.firewall.resolve_hold(call, hold, stored(box, hold)), Allow)
    box.firewall.run_allowed(call, box.rig.tool(call.call_id), hold_id=hold.hold_id)
    assert box.seen == [call.call_id]
    assert reserved(box) == 25_000


def test_a_pending_hold_passed_off_as_denied_or_expired_releases_nothing(box: Contained) -> None:
    call = refund(250)
    hold = held(box, call)
    for state in (HoldState.DENIED, HoldState.EXPIRED):
        forged = stored(box, hold).model_copy(update={"state": state})
        assert isinstance(box.firewall.resolve_hold(call, hold, forged), Deny)
    assert reserved(box) == 25_000, "the pending 250 still counts"
    box.rig.approvals.approve(hold.hold_id, "alice")
    assert isinstance(box.firewall.resolve_hold(call, hold, stored(box, hold)), Allow)


# -- a denied hold gives back once ----------------------------------------------------------


def test_a_denied_hold_gives_back_once_not_a_later_reservation_of_the_same_call_id(
    box: Contained,
) -> None:
    first = refund(250, call_id="call_1")
    old = held(box, first)
    box.rig.approvals.deny(old.hold_id, "carol", "no")
    assert isinstance(box.firewall.resolve_hold(first, old, stored(box, old)), Deny)
    again = refund(50, call_id="call_1")  # the model reuses its id for a new, smaller try
    assert isinstance(box.firewall.guard(again), Allow)
    for _ in range(3):  # the old denial resolved again, by any worker
        assert isinstance(box.firewall.resolve_hold(first, old, stored(box, old)), Deny)
    assert reserved(box) == 5_000, "the new, allowed 50 must still count"


def test_a_denied_hold_resolved_by_an_altered_call_releases_nothing(box: Contained) -> None:
    call = refund(250)
    hold = held(box, call)
    box.rig.approvals.deny(hold.hold_id, "carol", "no")
    altered = call.model_copy(update={"args": {"amount": 101}})
    assert isinstance(box.firewall.resolve_hold(altered, hold, stored(box, hold)), Deny)
    assert reserved(box) == 25_000
    assert isinstance(box.firewall.resolve_hold(call, hold, stored(box, hold)), Deny)
    assert reserved(box) == 0, "the held call itself gives it back"


class HoldDecisionLost:
    """An audit sink that cannot take the decision record of a hold (the hold is stored)."""

    def __init__(self, inner: AuditSink) -> None:
        self.inner = inner

    def append(self, event: AuditEvent) -> AuditEvent:
        if event.event == "decision" and event.outcome == "hold":
            raise AuditError("audit log unavailable")
        return self.inner.append(event)


def test_a_stored_hold_whose_decision_was_not_audited_keeps_its_budget(box: Contained) -> None:
    """The caller hears "refused", but the stored hold may still be approved and resumed."""
    call = refund(250)
    box.firewall.audit = HoldDecisionLost(box.rig.audit)
    refused = box.firewall.guard(call)
    assert isinstance(refused, Deny)
    assert refused.code is DenyCode.STORE_ERROR
    box.firewall.audit = box.rig.audit
    record = box.rig.approvals.for_call(call.key)
    assert record is not None
    assert reserved(box) == 25_000
    box.rig.approvals.approve(record.hold_id, "alice")
    resumed = box.firewall.resolve_hold(call, hold_of(record), stored(box, hold_of(record)))
    assert isinstance(resumed, Allow)  # as a re-run of the paused graph would find it


# -- expiry --------------------------------------------------------------------------------


def test_an_approval_that_expires_unused_gives_its_budget_back_once(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with freeze_time(start) as frozen:
        box = contained_rig(tmp_path, budgets=(ACME_BUDGET,))
        call = refund(250)
        hold = held(box, call)
        box.rig.approvals.approve(hold.hold_id, "alice")
        frozen.tick(timedelta(seconds=61))
        [expired] = box.rig.approvals.expire_unused()
        assert expired.decision_reason == "approval expired unused"
        for _ in range(3):
            late = box.firewall.resolve_hold(call, hold, stored(box, hold))
            assert isinstance(late, Deny)
            assert late.code is DenyCode.APPROVAL_EXPIRED
            assert "unused" in late.message()
        assert reserved(box) == 0
        box.firewall.close()


def test_an_approval_used_at_its_expiry_does_not_run_and_gives_back(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with freeze_time(start) as frozen:
        box = contained_rig(tmp_path, budgets=(ACME_BUDGET,))
        call = refund(250)
        hold = held(box, call)
        approved = box.rig.approvals.approve(hold.hold_id, "alice")
        frozen.tick(timedelta(seconds=60))
        late = box.firewall.resolve_hold(call, hold, approved)
        assert isinstance(late, Deny)
        assert late.code is DenyCode.APPROVAL_EXPIRED
        assert reserved(box) == 0
        assert box.seen == []
        box.firewall.close()


# -- another tenant's call id ---------------------------------------------------------------


def test_another_tenant_reusing_a_call_id_gets_its_own_reservation(box: Contained) -> None:
    held(box, refund(250, call_id="call_1"))
    theirs = box.firewall.guard(refund(250, principal=GLOBEX, call_id="call_1"))
    assert isinstance(theirs, Hold), theirs


def test_another_tenants_denied_hold_cannot_release_acmes_reservation(box: Contained) -> None:
    ours = refund(250, call_id="call_1")
    our_hold = held(box, ours)
    theirs = refund(250, principal=GLOBEX, call_id="call_1")
    their_hold = held(box, theirs)
    box.rig.approvals.deny(their_hold.hold_id, "carol", "no")
    denied = stored(box, their_hold)
    for hold in (their_hold, our_hold):  # their own hold, and ours with their denial
        assert isinstance(box.firewall.resolve_hold(theirs, hold, denied), Deny)
    assert reserved(box) == 25_000, "acme's pending 250 still counts"
    assert reserved(box, GLOBEX) == 0, "globex's denied hold gave its own 250 back"


def test_a_denied_hold_of_another_tenant_resolved_with_our_call_releases_nothing(
    box: Contained,
) -> None:
    ours = refund(250, call_id="call_1")
    our_hold = held(box, ours)
    theirs = refund(250, principal=GLOBEX, call_id="call_1")
    their_hold = held(box, theirs)
    box.rig.approvals.deny(their_hold.hold_id, "carol", "no")
    assert isinstance(box.firewall.resolve_hold(ours, their_hold, stored(box, their_hold)), Deny)
    assert reserved(box) == 25_000
    box.rig.approvals.approve(our_hold.hold_id, "alice")
    assert isinstance(box.firewall.resolve_hold(ours, our_hold, stored(box, our_hold)), Allow)


# -- a Redis blip at the last look ----------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of this test only, always killed afterwards."""
    if shutil.which("redis-server") is None:
        pytest.skip("cannot start an own Redis: redis-server not on PATH")
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def on_own_redis(tmp_path: Path, server: OwnRedis, cache_s: float) -> Contained:
    """The rig with limits, budgets and the kill switch on ``server``."""
    limits = LimitSettings(timeout_s=0.2, freeze_cache_s=cache_s)
    return contained_rig(tmp_path, storage_url=server.url, limits=limits)


@pytest.mark.redis
@pytest.mark.parametrize("cache_s", [0.0, 0.9])
def test_a_redis_blip_at_the_last_look_keeps_the_approval_and_a_retry_runs_once(
    tmp_path: Path, own_redis: OwnRedis, cache_s: float
) -> None:
    box = on_own_redis(tmp_path, own_redis, cache_s)
    call = refund(250)
    hold = held(box, call)
    box.rig.approvals.approve(hold.hold_id, "alice")
    own_redis.kill()
    blipped = box.firewall.resolve_hold(call, hold, stored(box, hold))
    if isinstance(blipped, Allow):
        blipped = box.firewall.run_allowed(call, box.rig.tool("blip"), hold_id=hold.hold_id)
    assert isinstance(blipped, Deny)
    assert blipped.code is DenyCode.LIMITER_ERROR
    assert stored(box, hold).state is HoldState.APPROVED, "the human's approval is kept"
    own_redis.start()
    results = []
    for _ in range(3):  # the retry runs; every later one hears "already used"
        decision = box.firewall.resolve_hold(call, hold, stored(box, hold))
        if isinstance(decision, Allow):
            decision = box.firewall.run_allowed(call, box.rig.tool("ran"), hold_id=hold.hold_id)
        results.append(decision)
    assert box.seen == ["ran"]
    assert isinstance(results[0], Executed)
    assert [r.code for r in results[1:] if isinstance(r, Deny)] == [DenyCode.APPROVAL_USED] * 2
    box.firewall.close()


@pytest.mark.redis
async def test_the_async_last_look_keeps_the_approval_too(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    box = on_own_redis(tmp_path, own_redis, 0.0)
    call = refund(250)
    hold = held(box, call)
    box.rig.approvals.approve(hold.hold_id, "alice")
    assert isinstance(box.firewall.resolve_hold(call, hold, stored(box, hold)), Allow)
    own_redis.kill()

    async def tool() -> str:
        box.seen.append("ran")
        return "ran"

    blipped = await box.firewall.arun_allowed(call, tool, hold_id=hold.hold_id)
    assert isinstance(blipped, Deny)
    assert stored(box, hold).state is HoldState.APPROVED
    own_redis.start()
    assert isinstance(box.firewall.resolve_hold(call, hold, stored(box, hold)), Allow)
    assert isinstance(await box.firewall.arun_allowed(call, tool, hold_id=hold.hold_id), Executed)
    assert box.seen == ["ran"]
    assert stored(box, hold).state is HoldState.EXECUTED
    box.firewall.close()


# -- the rule for cached kill-switch reads --------------------------------------------------


@pytest.mark.redis
def test_a_cached_not_frozen_never_runs_an_approved_money_call_during_an_outage(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    """Within the cache window, with the store down, a money call is refused, not run."""
    box = on_own_redis(tmp_path, own_redis, 0.9)
    call = refund(250)
    hold = held(box, call)  # the freeze list was read (and cached) just now
    box.rig.approvals.approve(hold.hold_id, "alice")
    own_redis.kill()
    decision = box.firewall.resolve_hold(call, hold, stored(box, hold))
    if isinstance(decision, Allow):
        decision = box.firewall.run_allowed(call, box.rig.tool("ran"), hold_id=hold.hold_id)
    assert isinstance(decision, Deny)
    assert decision.code is DenyCode.LIMITER_ERROR
    assert "kill switch unavailable" in decision.message()
    assert box.seen == []
    box.firewall.close()


@pytest.mark.redis
def test_a_low_risk_call_may_use_the_cached_list_only_within_the_window(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    """The documented rule for low-risk calls: a copy at most ``freeze_cache_s`` old."""
    box = on_own_redis(tmp_path, own_redis, 0.9)
    lookup = ToolCall(tool="lookup", args={"customer_id": "c-1"}, principal=AGENT, session_id="s-1")
    assert isinstance(box.firewall.run(lookup, box.rig.tool("warm")), Executed)
    own_redis.kill()
    inside = ToolCall(tool="lookup", args={"customer_id": "c-1"}, principal=AGENT, session_id="s-1")
    assert isinstance(box.firewall.run(inside, box.rig.tool("inside")), Executed)
    time.sleep(1.0)
    after = box.firewall.run(lookup.model_copy(update={"call_id": "late"}), box.rig.tool("late"))
    assert isinstance(after, Deny)
    assert after.code is DenyCode.LIMITER_ERROR
    assert box.seen == ["warm", "inside"]
    box.firewall.close()
