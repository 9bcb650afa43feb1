"""The background flusher: deferred events are sealed soon, and all of them on close."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from firewall.audit.deferred import BackgroundFlusher
from firewall.audit.group import GroupCommit
from firewall.audit.records import SealedRecord

WAIT_S = 10.0


class CountingSealer:
    def __init__(self) -> None:
        self.sealed: list[str] = []
        self.batches: list[list[str]] = []
        self.sealed_any = threading.Event()

    def __call__(self, events: Sequence[dict[str, Any]]) -> list[SealedRecord]:
        self.batches.append([str(data["name"]) for data in events])
        self.sealed += self.batches[-1]
        self.sealed_any.set()
        return [SealedRecord(seq=i, hash="h", body="b") for i, _ in enumerate(events, 1)]


def flusher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "firewall-audit-flusher"]


def test_no_thread_until_something_is_deferred() -> None:
    before = set(flusher_threads())
    flusher = BackgroundFlusher(GroupCommit(CountingSealer()), linger_s=0.0)
    assert set(flusher_threads()) - before == set()
    flusher.close()


def test_a_deferred_event_is_sealed_without_anyone_waiting_for_it() -> None:
    sealer = CountingSealer()
    group = GroupCommit(sealer)
    flusher = BackgroundFlusher(group, linger_s=0.0)
    group.defer([{"name": "outcome"}])
    flusher.notify()
    assert sealer.sealed_any.wait(WAIT_S)
    assert sealer.sealed == ["outcome"]
    flusher.close()


def test_close_seals_what_is_still_lingering_and_stops_the_thread() -> None:
    sealer = CountingSealer()
    group = GroupCommit(sealer)
    flusher = BackgroundFlusher(group, linger_s=3600.0)  # would wait an hour on its own
    before = set(flusher_threads())
    group.defer([{"name": "a"}])
    flusher.notify()
    mine = set(flusher_threads()) - before
    assert len(mine) == 1
    started = time.monotonic()
    flusher.close()
    assert time.monotonic() - started < WAIT_S
    assert sealer.sealed == ["a"]
    assert not any(thread.is_alive() for thread in mine)


def test_a_closed_flusher_starts_no_thread() -> None:
    flusher = BackgroundFlusher(GroupCommit(CountingSealer()), linger_s=0.0)
    flusher.close()
    before = set(flusher_threads())
    flusher.notify()
    assert set(flusher_threads()) - before == set()


def test_an_event_the_next_append_carried_costs_no_commit_of_its_own() -> None:
    sealer = CountingSealer()
    group = GroupCommit(sealer)
    flusher = BackgroundFlusher(group, linger_s=0.05)
    group.defer([{"name": "outcome"}])
    flusher.notify()
    group.submit([{"name": "decision"}])
    time.sleep(0.2)  # well past the linger: a flush now would seal an empty batch or repeat
    flusher.close()
    assert sealer.batches == [["outcome", "decision"]]
