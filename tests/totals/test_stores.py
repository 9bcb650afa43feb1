"""Totals stores (memory and Redis): compare-and-reserve, commit, release by owner, once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from firewall.containment.settings import LimitSettings
from firewall.errors import ConfigError
from firewall.totals import Entry, MemoryTotals, Tally, TotalsStore, totals_from_url
from firewall.totals.redis_store import RedisTotals

ORDER, CUSTOMER = "refunded_per_order:o1", "refunded_per_customer:c1"
ZERO = Tally()


def test_unused_totals_read_as_zero(store: TotalsStore) -> None:
    assert store.read([ORDER, CUSTOMER]) == [ZERO, ZERO]


def test_a_reservation_adds_its_cents_and_one_call_to_every_total(store: TotalsStore) -> None:
    entries = [Entry(ORDER, 8000, ZERO), Entry(CUSTOMER, 8000, ZERO)]
    assert store.reserve("r1", entries, owner="unheld").admitted
    assert store.read([ORDER, CUSTOMER]) == [Tally(8000, 1), Tally(8000, 1)]


def test_a_reservation_on_a_tally_that_moved_is_refused_and_changes_nothing(
    store: TotalsStore,
) -> None:
    store.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="unheld")
    stale = [Entry(CUSTOMER, 5000, ZERO), Entry(ORDER, 5000, ZERO)]
    refused = store.reserve("r2", stale, owner="unheld")
    assert not refused.admitted
    assert refused.changed == ORDER
    assert store.read([ORDER, CUSTOMER]) == [Tally(3000, 1), ZERO], "all or nothing"


def test_a_reservation_on_the_current_tally_is_admitted(store: TotalsStore) -> None:
    store.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="unheld")
    assert store.reserve("r2", [Entry(ORDER, 5000, Tally(3000, 1))], owner="unheld").admitted
    assert store.read([ORDER]) == [Tally(8000, 2)]


def test_a_known_reservation_id_is_refused_as_duplicate(store: TotalsStore) -> None:
    store.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="unheld")
    again = store.reserve("r1", [Entry(ORDER, 3000, Tally(3000, 1))], owner="unheld")
    assert again.duplicate
    assert store.read([ORDER]) == [Tally(3000, 1)]


def test_release_by_its_owner_gives_the_amount_back_once(store: TotalsStore) -> None:
    store.reserve("r1", [Entry(ORDER, 3000, ZERO), Entry(CUSTOMER, 3000, ZERO)], owner="hold_1")
    assert not store.release("r1", owner="unheld"), "only its owner releases"
    assert store.release("r1", owner="hold_1")
    assert not store.release("r1", owner="hold_1"), "a second release changes nothing"
    assert store.read([ORDER, CUSTOMER]) == [ZERO, ZERO]


def test_a_spent_reservation_can_never_be_released(store: TotalsStore) -> None:
    store.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="unheld")
    assert store.commit("r1", owner="unheld")
    assert not store.commit("r1", owner="unheld")
    assert not store.release("r1", owner="unheld")
    assert store.read([ORDER]) == [Tally(3000, 1)]


def test_commit_names_the_owner(store: TotalsStore) -> None:
    store.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="hold_1")
    assert not store.commit("r1", owner="unheld")
    assert not store.commit("r2", owner="hold_1"), "no such reservation"


def test_a_spent_reservation_id_stays_a_duplicate(store: TotalsStore) -> None:
    store.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="unheld")
    store.commit("r1", owner="unheld")
    assert store.reserve("r1", [Entry(ORDER, 3000, Tally(3000, 1))], owner="unheld").duplicate


def test_a_released_reservation_id_may_reserve_again(store: TotalsStore) -> None:
    store.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="unheld")
    store.release("r1", owner="unheld")
    assert store.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="unheld").admitted


def test_of_many_concurrent_reservations_on_one_tally_exactly_one_is_admitted(
    store: TotalsStore,
) -> None:
    def attempt(i: int) -> bool:
        return store.reserve(f"r{i}", [Entry(ORDER, 8000, ZERO)], owner="unheld").admitted

    with ThreadPoolExecutor(8) as pool:
        admitted = list(pool.map(attempt, range(40)))
    assert sum(admitted) == 1
    assert store.read([ORDER]) == [Tally(8000, 1)]


def test_totals_are_shared_by_every_client_of_one_redis(redis_url: str, prefix: str) -> None:
    settings = LimitSettings(key_prefix=prefix)
    first, second = RedisTotals(redis_url, settings), RedisTotals(redis_url, settings)
    try:
        first.reserve("r1", [Entry(ORDER, 3000, ZERO)], owner="unheld")
        assert second.read([ORDER]) == [Tally(3000, 1)]
        assert not second.reserve("r2", [Entry(ORDER, 1, ZERO)], owner="unheld").admitted
        assert second.release("r1", owner="unheld")
        assert first.read([ORDER]) == [ZERO]
    finally:
        first.close()
        second.close()


def test_a_redis_that_does_not_answer_raises() -> None:
    closed = RedisTotals("redis://127.0.0.1:1/0", LimitSettings(timeout_s=0.2))
    with pytest.raises(Exception):  # noqa: B017, PT011 - any client error: callers fail closed
        closed.read([ORDER])


def test_stores_are_chosen_by_url() -> None:
    assert isinstance(totals_from_url("memory://"), MemoryTotals)
    assert isinstance(totals_from_url("redis://127.0.0.1:6379/0"), RedisTotals)
    with pytest.raises(ConfigError, match=r"storage\.totals_url"):
        totals_from_url("sqlite:///x.db")
