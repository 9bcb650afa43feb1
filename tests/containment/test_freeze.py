"""The freeze list on every backend, and the short-lived local copy the stage reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from firewall.containment.freeze import (
    CachedFreezes,
    FreezeEntry,
    FreezeStore,
    FreezeTarget,
    MemoryFreezeStore,
    targets_of,
)
from firewall.containment.freeze_stores import (
    RedisFreezeStore,
    SqlFreezeStore,
    freeze_store_from_url,
)
from firewall.types import Principal
from tests.containment.helpers import closing

BOT = Principal(agent_id="bot-1", tenant="acme")


def entry(target: str = "agent:bot-1", reason: str = "runaway", **extra: object) -> FreezeEntry:
    return FreezeEntry.model_validate({"target": target, "reason": reason, "by": "ops", **extra})


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_targets_have_stable_keys() -> None:
    assert FreezeTarget(kind="agent", name="bot-1").key == "agent:bot-1"
    assert FreezeTarget(kind="tenant", name="acme").key == "tenant:acme"
    assert FreezeTarget(kind="all").key == "all"
    assert FreezeTarget.parse("tenant:acme") == FreezeTarget(kind="tenant", name="acme")


@pytest.mark.parametrize("key", ["agent:", "team:x", "everything", ""])
def test_unreadable_target_keys_are_refused(key: str) -> None:
    with pytest.raises((ValueError, ValidationError)):
        FreezeTarget.parse(key)


def test_a_principal_is_stopped_by_its_agent_its_tenant_or_all() -> None:
    assert targets_of(BOT) == ("agent:bot-1", "tenant:acme", "all")


def test_store_keeps_freezes_until_lifted(freeze_store: FreezeStore) -> None:
    assert freeze_store.freeze(entry()) is True
    assert freeze_store.freeze(entry("tenant:acme", "audit")) is True
    snapshot = freeze_store.snapshot()
    assert sorted(snapshot) == ["agent:bot-1", "tenant:acme"]
    assert snapshot["agent:bot-1"].reason == "runaway"
    assert freeze_store.unfreeze("agent:bot-1") is True
    assert freeze_store.unfreeze("agent:bot-1") is False
    assert list(freeze_store.snapshot()) == ["tenant:acme"]


def test_refreezing_overwrites_unless_told_not_to(freeze_store: FreezeStore) -> None:
    freeze_store.freeze(entry(reason="first"))
    assert freeze_store.freeze(entry(reason="second")) is False
    assert freeze_store.snapshot()["agent:bot-1"].reason == "second"
    assert freeze_store.freeze(entry(reason="third", automatic=True), overwrite=False) is False
    kept = freeze_store.snapshot()["agent:bot-1"]
    assert (kept.reason, kept.automatic) == ("second", False)


def test_stores_are_chosen_by_url(tmp_path: Path, redis_url: str) -> None:
    stores = [
        freeze_store_from_url("memory://"),
        freeze_store_from_url(redis_url),
        freeze_store_from_url(f"sqlite:///{tmp_path / 'f.db'}"),
    ]
    kinds = [type(store) for store in stores]
    for store in stores:
        closing(store)
    assert kinds == [MemoryFreezeStore, RedisFreezeStore, SqlFreezeStore]


def test_cached_copy_is_trusted_only_for_its_ttl() -> None:
    shared, clock = MemoryFreezeStore(), Clock()
    reader = CachedFreezes(shared, ttl_s=0.5, clock=clock)
    assert reader.matching(BOT) is None
    shared.freeze(entry())  # another process freezes the agent
    clock.now += 0.4
    assert reader.matching(BOT) is None
    clock.now += 0.1
    found = reader.matching(BOT)
    assert found is not None
    assert found.target == "agent:bot-1"


def test_freezing_through_the_cache_is_seen_at_once() -> None:
    reader = CachedFreezes(MemoryFreezeStore(), ttl_s=0.5, clock=Clock())
    assert reader.matching(BOT) is None
    reader.freeze(entry("all", "incident"))
    found = reader.matching(BOT)
    assert found is not None
    assert found.target == "all"
    reader.unfreeze("all")
    assert reader.matching(BOT) is None


class BrokenStore(MemoryFreezeStore):
    """A store whose reads fail once ``down`` is set."""

    down = False

    def snapshot(self) -> dict[str, FreezeEntry]:
        if self.down:
            raise ConnectionError("store down")
        return super().snapshot()


def test_a_store_outage_raises_unless_the_last_copy_already_freezes() -> None:
    store, clock = BrokenStore(), Clock()
    reader = CachedFreezes(store, ttl_s=0.5, clock=clock)
    store.freeze(entry())
    assert reader.matching(BOT) is not None
    store.down = True
    clock.now += 1
    assert reader.matching(BOT) is not None  # still frozen by what we knew
    other = Principal(agent_id="bot-2", tenant="globex")
    with pytest.raises(ConnectionError):
        reader.matching(other)


def test_a_fresh_look_asks_the_store_even_inside_the_window() -> None:
    shared, clock = MemoryFreezeStore(), Clock()
    reader = CachedFreezes(shared, ttl_s=0.5, clock=clock)
    assert reader.matching(BOT) is None
    shared.freeze(entry())  # another process freezes the agent
    assert reader.matching(BOT) is None  # the copy, 0 s old
    assert reader.matching(BOT, fresh=True) is not None


def test_a_fresh_look_at_an_unreachable_store_raises_inside_the_window() -> None:
    store, clock = BrokenStore(), Clock()
    reader = CachedFreezes(store, ttl_s=0.5, clock=clock)
    assert reader.matching(BOT) is None
    store.down = True
    with pytest.raises(ConnectionError):
        reader.matching(BOT, fresh=True)


def test_a_store_seen_failing_no_longer_vouches_through_its_copy() -> None:
    """Once a read failed, "not frozen" is not taken from the copy, even inside the window."""
    store, clock = BrokenStore(), Clock()
    reader = CachedFreezes(store, ttl_s=0.5, clock=clock)
    assert reader.matching(BOT) is None
    store.down = True
    assert reader.matching(BOT) is None  # inside the window, nobody has seen it fail yet
    with pytest.raises(ConnectionError):
        reader.matching(BOT, fresh=True)
    with pytest.raises(ConnectionError):
        reader.matching(BOT)
    store.down = False
    assert reader.matching(BOT) is None


def test_entry_describes_who_froze_what_and_why() -> None:
    manual = entry(reason="refund spree")
    assert "agent:bot-1 is frozen by ops" in manual.describe()
    assert manual.describe().endswith("refund spree")
    assert "circuit breaker" in entry(automatic=True).describe()
