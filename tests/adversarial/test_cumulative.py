"""Attacks on cumulative limits (issue 12, fault class 6), on the demo's own firewall.toml.

Order o-1 is 80, o-2 is 1200, both of customer c-100. However the calls are varied
(agent, on_behalf_of, session, call id, retries, threads, worker processes), the refund
tool may pay at most what the order is worth, and only for the customer the session acts
for. Totals the firewall cannot read or write refuse the call, audited.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from firewall.approvals.models import HoldState
from firewall.containment.freeze import FreezeTarget
from firewall.gate import Executed
from firewall.types import Deny, DenyCode, Hold
from tests.adversarial.cumulative_rig import (
    Desk,
    audited_denials,
    audited_totals,
    build_desk,
    principal,
)
from tests.containment.helpers import OwnRedis, delete_prefix

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """The demo's firewall on memory stores."""
    made = build_desk(tmp_path)
    yield made
    made.close()


@pytest.fixture
def unbudgeted(tmp_path: Path) -> Iterator[Desk]:
    """The demo's firewall without its budgets: only the totals bound refunds."""
    made = build_desk(tmp_path, budgets=False)
    yield made
    made.close()


def reasons_of(result: object) -> str:
    """A denial's reasons in one line ('' if the call was not denied)."""
    return "; ".join(result.reasons) if isinstance(result, Deny) else ""


def test_thirty_refunds_of_80_on_an_80_order_pay_80_once(desk: Desk) -> None:
    results = [desk.refund("o-1", 80) for _ in range(30)]
    assert desk.paid() == 80
    assert isinstance(results[0], Executed)
    assert all("exceeds_remaining" in reasons_of(r) for r in results[1:]), results[1]


def test_small_refunds_stop_at_the_order_amount_to_the_cent(desk: Desk) -> None:
    results = [desk.refund("o-1", amount) for amount in (30, 30, 19.99, 0.02, 0.01)]
    assert desk.paid("o-1") == pytest.approx(80)
    assert [isinstance(r, Executed) for r in results] == [True, True, True, False, True]


def test_varying_agent_principal_and_session_cannot_exceed_the_order(desk: Desk) -> None:
    customers = ["customer:c-100", "c-100", "customer:C-100", None]
    for i in range(40):
        who = principal(agent=f"bot-{i}", on_behalf_of=customers[i % len(customers)])
        call = desk.call("o-2", 90, who=who, session=f"s-{i}")
        result = desk.firewall.run(call, desk.execute(call))
        if isinstance(result, Hold):  # a human approves every held refund; it runs
            desk.firewall.approvals.approve(result.hold_id, "alice")
            record = desk.firewall.approvals.get(result.hold_id)
            assert record is not None
            if not isinstance(desk.firewall.resolve_hold(call, result, record), Deny):
                desk.firewall.run_allowed(call, desk.execute(call), hold_id=result.hold_id)
    assert desk.paid("o-2") <= 1200
    assert desk.paid("o-2") > 0, "the attack must have been tried on an order it could refund"


def test_approved_holds_count_while_pending_and_cannot_exceed_the_order(unbudgeted: Desk) -> None:
    holds = []
    for i in range(4):  # 4 x 450 on a 1200 order, each held for a supervisor
        call = unbudgeted.call("o-2", 450, who=principal(agent=f"bot-{i}"), session=f"s-{i}")
        decision = unbudgeted.firewall.guard(call)
        holds.append((call, decision))
    held = [(c, d) for c, d in holds if isinstance(d, Hold)]
    assert len(held) == 2, holds  # the third 450 would exceed the 1200 while two wait
    assert all("exceeds_remaining" in reasons_of(d) for _, d in holds if isinstance(d, Deny))
    for call, hold in held:
        unbudgeted.firewall.approvals.approve(hold.hold_id, "alice")
        record = unbudgeted.firewall.approvals.get(hold.hold_id)
        assert record is not None
        allowed = unbudgeted.firewall.resolve_hold(call, hold, record)
        unbudgeted.firewall.run_allowed(call, unbudgeted.execute(call), hold_id=hold.hold_id)
        assert not isinstance(allowed, Deny)
    assert unbudgeted.paid("o-2") == 900


def test_refund_of_another_customers_order_is_refused(desk: Desk) -> None:
    result = desk.refund("o-1", 10, who=principal(on_behalf_of="customer:c-101"))
    assert "wrong_customer" in reasons_of(result)
    assert desk.paid() == 0


def test_refund_for_no_customer_waits_for_a_human(desk: Desk) -> None:
    result = desk.refund("o-1", 10, who=principal(on_behalf_of=None))
    assert isinstance(result, Hold)
    assert desk.paid() == 0


@pytest.mark.parametrize("spelling", ["O-1", " o-1", "o-1 ", "o\u20111", "o-01"])
def test_another_spelling_of_the_order_id_refunds_nothing(desk: Desk, spelling: str) -> None:
    desk.refund("o-1", 80)
    result = desk.refund(spelling, 80)
    assert isinstance(result, Deny), result
    assert desk.paid() == 80


def test_retrying_one_call_id_pays_once(desk: Desk) -> None:
    results = [desk.refund("o-2", 50, call_id="call_retry") for _ in range(5)]
    assert desk.paid() == 50
    assert sum(isinstance(r, Executed) for r in results) == 1


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_concurrent_refunds_on_one_order_pay_it_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    config: dict[str, str] = {}
    if backend == "redis":
        prefix = f"fwtest{uuid.uuid4().hex[:12]}"
        url: str = request.getfixturevalue("redis_url")
        request.addfinalizer(lambda: delete_prefix(url, prefix))
        config = {"limits_url": url, "key_prefix": prefix}
    desk = build_desk(tmp_path, **config)
    try:
        with ThreadPoolExecutor(16) as pool:
            jobs = [
                pool.submit(desk.refund, "o-1", 80, who=principal(agent=f"bot-{i}"),
                            session=f"s-{i}")
                for i in range(32)
            ]  # fmt: skip
            results = [job.result() for job in jobs]
    finally:
        desk.close()
    assert desk.paid() == 80
    assert sum(isinstance(r, Executed) for r in results) == 1


@pytest.mark.redis
def test_worker_processes_on_one_redis_refund_at_most_the_order(
    tmp_path: Path, redis_url: str
) -> None:
    prefix = f"fwtest{uuid.uuid4().hex[:12]}"
    start = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.adversarial.cumulative_worker",
             str(tmp_path / f"w{i}"), redis_url, prefix, str(start), str(i)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        for i in range(3)
    ]  # fmt: skip
    try:
        start.touch()
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
        delete_prefix(redis_url, prefix)
    assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
    paid = [amount for out in outputs for amount in json.loads(out.splitlines()[-1])["paid"]]
    assert sum(paid) <= 80, paid
    assert sum(paid) >= 30, "at least one refund of 30 must have run"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of this test only, always killed afterwards."""
    server = OwnRedis(tmp_path)
    try:
        server.start()
    except FileNotFoundError:
        pytest.skip("cannot start an own Redis: redis-server not on PATH")
    yield server
    server.kill()


def test_refunds_are_refused_and_audited_while_the_totals_store_is_down(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    desk = build_desk(tmp_path / "desk", totals_url=own_redis.url)
    try:
        assert isinstance(desk.refund("o-1", 30), Executed)
        own_redis.kill()
        down = desk.refund("o-1", 30)
        own_redis.start()  # empty again: a store that lost its totals is another matter
    finally:
        desk.close()
    assert isinstance(down, Deny)
    assert down.code is DenyCode.STORE_ERROR
    assert "totals store unavailable" in reasons_of(down)
    assert desk.paid() == 30
    audited = [d for d in audited_denials(desk.db) if d["call_id"] == down.call_id]
    assert audited, "the refusal is on the audit chain"
    assert "totals store unavailable" in audited[0]["reasons"][0]


def test_a_denied_hold_gives_its_amount_back(unbudgeted: Desk) -> None:
    call = unbudgeted.call("o-2", 1000)
    hold = unbudgeted.firewall.guard(call)
    assert isinstance(hold, Hold)
    assert "exceeds_remaining" in reasons_of(unbudgeted.refund("o-2", 300))  # 1000 waits
    unbudgeted.firewall.approvals.deny(hold.hold_id, "alice", "no")
    record = unbudgeted.firewall.approvals.get(hold.hold_id)
    assert record is not None
    assert record.state is HoldState.DENIED
    assert isinstance(unbudgeted.firewall.resolve_hold(call, hold, record), Deny)
    assert isinstance(unbudgeted.refund("o-2", 100), Executed), "the denied 1000 no longer counts"


def test_an_executed_hold_resolved_again_keeps_its_amount(unbudgeted: Desk) -> None:
    call = unbudgeted.call("o-2", 1200)
    hold = unbudgeted.firewall.guard(call)
    assert isinstance(hold, Hold)
    unbudgeted.firewall.approvals.approve(hold.hold_id, "alice")
    for _ in range(3):  # the interrupt middleware re-resolves on every re-run
        record = unbudgeted.firewall.approvals.get(hold.hold_id)
        assert record is not None
        decision = unbudgeted.firewall.resolve_hold(call, hold, record)
        if not isinstance(decision, Deny):
            unbudgeted.firewall.run_allowed(call, unbudgeted.execute(call), hold_id=hold.hold_id)
    assert unbudgeted.paid() == 1200
    assert "exceeds_remaining" in reasons_of(unbudgeted.refund("o-2", 10))


def test_a_refund_whose_tool_failed_still_counts(desk: Desk) -> None:
    call = desk.call("o-1", 80)

    def broken() -> str:
        raise RuntimeError("payment gateway timed out after charging")

    with pytest.raises(RuntimeError):
        desk.firewall.run(call, broken)
    assert "exceeds_remaining" in reasons_of(desk.refund("o-1", 80))


def test_a_refund_frozen_before_it_started_gives_its_amount_back(desk: Desk) -> None:
    call = desk.call("o-1", 80)
    assert not isinstance(desk.firewall.guard(call), Deny)
    target = FreezeTarget(kind="agent", name="support-bot")
    desk.firewall.containment.freeze(target, reason="incident", by="ops")
    frozen = desk.firewall.run_allowed(call, desk.execute(call))
    assert isinstance(frozen, Deny)
    assert frozen.code is DenyCode.FROZEN
    desk.firewall.containment.unfreeze(target, by="ops")
    assert isinstance(desk.refund("o-1", 80), Executed)
    assert desk.paid() == 80


def test_a_refund_refused_by_a_later_budget_gives_its_amount_back(desk: Desk) -> None:
    for _ in range(5):  # the demo's budget: 500 per customer per day
        assert isinstance(desk.refund("o-2", 100), Executed)
    over = desk.refund("o-2", 100)
    assert isinstance(over, Deny)
    assert over.code is DenyCode.BUDGET_EXCEEDED
    after = desk.refund("o-2", 100)
    assert isinstance(after, Deny)
    shown = audited_totals(desk.db, after.call_id)  # what the policy saw next
    assert shown["refunded_per_order"]["cents"] == 50_000, "the refused 100 is not counted"
