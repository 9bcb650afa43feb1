"""Budget ledgers (memory and Redis): reserve atomically, refuse overruns, release by id."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from freezegun import freeze_time

from firewall.containment.budgets import (
    Bucket,
    BudgetLedger,
    MemoryBudgetLedger,
    ledger_from_url,
    money,
    to_minor_units,
)
from firewall.containment.budgets_redis import RedisBudgetLedger
from firewall.containment.settings import LimitSettings
from firewall.errors import ConfigError

HOUR = Bucket(key="refund:agent:3600:a1", limit=200_000, window_s=3600, label="2000 per agent")
DAY = Bucket(key="refund:customer:86400:c1", limit=50_000, window_s=86400, label="500 per customer")


@pytest.mark.parametrize(
    ("amount", "cents"),
    [(0, 0), (12, 1200), (12.5, 1250), ("0.01", 1), (Decimal("19.999"), 2000), (0.001, 1)],
)
def test_amounts_become_cents_rounded_up(amount: object, cents: int) -> None:
    assert to_minor_units(amount) == cents


@pytest.mark.parametrize("amount", [-1, float("nan"), float("inf"), "ten", None, True, [5]])
def test_non_amounts_are_refused(amount: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        to_minor_units(amount)


def test_money_prints_cents_as_units() -> None:
    assert money(200_000) == "2000.00"
    assert money(5) == "0.05"


def test_reservations_within_the_budget_are_admitted(ledger: BudgetLedger) -> None:
    assert ledger.reserve("call_1", 150_000, [HOUR]).admitted
    assert ledger.reserve("call_2", 50_000, [HOUR]).admitted
    assert ledger.used(HOUR) == 200_000


def test_a_reservation_that_would_overrun_is_refused_and_names_its_bucket(
    ledger: BudgetLedger,
) -> None:
    ledger.reserve("call_1", 190_000, [HOUR])
    refused = ledger.reserve("call_2", 20_000, [HOUR])
    assert not refused.admitted
    assert refused.exhausted == HOUR
    assert refused.used == 190_000
    assert refused.retry_after_s is not None
    assert 0 < refused.retry_after_s <= 3600
    assert ledger.used(HOUR) == 190_000


def test_reservation_is_all_or_nothing_across_buckets(ledger: BudgetLedger) -> None:
    ledger.reserve("call_1", 45_000, [HOUR, DAY])
    refused = ledger.reserve("call_2", 10_000, [HOUR, DAY])
    assert refused.exhausted == DAY
    assert ledger.used(HOUR) == 45_000


def test_release_gives_back_exactly_that_reservation(ledger: BudgetLedger) -> None:
    ledger.reserve("call_1", 30_000, [HOUR, DAY])
    ledger.reserve("call_2", 10_000, [HOUR, DAY])
    assert ledger.release("call_1") is True
    assert ledger.used(HOUR) == 10_000
    assert ledger.used(DAY) == 10_000
    assert ledger.release("call_1") is False


def test_releasing_an_unknown_reservation_changes_nothing(ledger: BudgetLedger) -> None:
    ledger.reserve("call_1", 30_000, [HOUR])
    assert ledger.release("call_404") is False
    assert ledger.used(HOUR) == 30_000


def test_a_call_id_cannot_reserve_twice(ledger: BudgetLedger) -> None:
    assert ledger.reserve("call_1", 10_000, [HOUR]).admitted
    again = ledger.reserve("call_1", 10_000, [HOUR])
    assert again.duplicate
    assert not again.admitted
    assert ledger.used(HOUR) == 10_000


def test_zero_amounts_fit_a_full_budget(ledger: BudgetLedger) -> None:
    ledger.reserve("call_1", 200_000, [HOUR])
    assert ledger.reserve("call_2", 0, [HOUR]).admitted


def test_memory_window_moves_on() -> None:
    """Spending older than the window no longer counts (memory, frozen clock)."""
    ledger = MemoryBudgetLedger()
    with freeze_time("2026-01-01 10:00:00") as clock:
        ledger.reserve("call_1", 200_000, [HOUR])
        clock.tick(1800)
        refused = ledger.reserve("call_2", 1, [HOUR])
        assert refused.retry_after_s == pytest.approx(1800)
        clock.tick(1800)
        assert ledger.reserve("call_3", 200_000, [HOUR]).admitted


def test_redis_window_moves_on_with_the_server_clock(
    shared_redis: str, limit_settings: LimitSettings
) -> None:
    """Spending older than the window no longer counts (Redis keeps time by its own clock)."""
    ledger = RedisBudgetLedger(shared_redis, limit_settings)
    second = Bucket(key="tiny:agent:1:a1", limit=100, window_s=1)
    assert ledger.reserve("call_1", 100, [second]).admitted
    assert not ledger.reserve("call_2", 1, [second]).admitted
    time.sleep(1.1)
    assert ledger.reserve("call_3", 100, [second]).admitted


def test_ledger_is_chosen_by_url() -> None:
    assert isinstance(ledger_from_url("memory://"), MemoryBudgetLedger)
    with pytest.raises(ConfigError, match="memory:// or redis://"):
        ledger_from_url("mongodb://localhost")


def test_a_released_id_reserved_again_counts_for_its_full_window() -> None:
    ledger = MemoryBudgetLedger()
    with freeze_time("2026-01-01 10:00:00") as clock:
        ledger.reserve("call_1", 100_000, [HOUR])
        ledger.release("call_1")
        clock.tick(1800)
        ledger.reserve("call_1", 150_000, [HOUR])
        clock.tick(1800)  # the first reservation's window ends; the second still counts
        assert ledger.used(HOUR) == 150_000


def test_only_the_owner_of_a_reservation_can_release_it(ledger: BudgetLedger) -> None:
    ledger.reserve("r1", 30_000, [HOUR], owner="hold_a")
    assert ledger.release("r1", owner="hold_b") is False
    assert ledger.release("r1") is False  # an unheld call's release is not the hold's
    assert ledger.used(HOUR) == 30_000
    assert ledger.release("r1", owner="hold_a") is True
    assert ledger.used(HOUR) == 0


def test_a_stale_release_cannot_free_a_new_reservation_of_the_same_id(
    ledger: BudgetLedger,
) -> None:
    ledger.reserve("r1", 30_000, [HOUR], owner="hold_a")
    assert ledger.release("r1", owner="hold_a") is True
    ledger.reserve("r1", 40_000, [HOUR], owner="hold_b")  # the id reused by a new call
    assert ledger.release("r1", owner="hold_a") is False  # the old hold, resolved again
    assert ledger.used(HOUR) == 40_000


def test_concurrent_releases_give_back_once(ledger: BudgetLedger) -> None:
    """Many workers resolving one denied hold at once: exactly one release counts."""
    ledger.reserve("r0", 10_000, [HOUR, DAY])
    ledger.reserve("r1", 30_000, [HOUR, DAY], owner="hold_a")
    with ThreadPoolExecutor(max_workers=8) as pool:
        released = list(pool.map(lambda _: ledger.release("r1", owner="hold_a"), range(32)))
    assert released.count(True) == 1
    assert (ledger.used(HOUR), ledger.used(DAY)) == (10_000, 10_000)
