"""Group commit: waited-for appends and deferred ones share transactions, in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from firewall.audit.group import GroupCommit
from firewall.audit.records import SealedRecord
from firewall.errors import AuditError


class ListSealer:
    """Seals events into a list; refuses any event whose ``bad`` is set."""

    def __init__(self) -> None:
        self.sealed: list[str] = []
        self.batches: list[list[str]] = []

    def __call__(self, events: Sequence[dict[str, Any]]) -> list[SealedRecord]:
        names = [str(data["name"]) for data in events]
        self.batches.append(names)
        if any(data.get("bad") for data in events):
            raise AuditError("refused")
        records = []
        for name in names:
            self.sealed.append(name)
            records.append(SealedRecord(seq=len(self.sealed), hash=name, body=name))
        return records


class LostEvents:
    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, events: Sequence[dict[str, Any]], _error: BaseException) -> None:
        self.names += [str(data["name"]) for data in events]


def test_deferred_events_ride_in_the_next_submit_before_it() -> None:
    sealer = ListSealer()
    group = GroupCommit(sealer)
    assert group.defer([{"name": "outcome-1"}])
    assert group.deferred == 1
    assert sealer.sealed == []  # nothing written until someone commits
    records = group.submit([{"name": "decision-2"}])
    assert sealer.batches == [["outcome-1", "decision-2"]]
    assert [record.seq for record in records] == [2]  # the caller gets only its own records
    assert group.deferred == 0


def test_flush_seals_what_was_deferred_and_nothing_twice() -> None:
    sealer = ListSealer()
    group = GroupCommit(sealer)
    group.defer([{"name": "a"}])
    group.defer([{"name": "b"}])
    group.flush()
    group.flush()
    assert sealer.batches == [["a", "b"]]


def test_a_full_queue_refuses_to_defer() -> None:
    group = GroupCommit(ListSealer(), max_deferred=2)
    assert group.defer([{"name": "a"}, {"name": "b"}])
    assert not group.defer([{"name": "c"}])
    group.flush()
    assert group.defer([{"name": "c"}])


def test_a_failed_submit_fails_its_caller_and_reports_the_deferred_events_lost() -> None:
    sealer, lost = ListSealer(), LostEvents()
    group = GroupCommit(sealer, on_lost=lost)
    group.defer([{"name": "outcome", "bad": True}])
    with pytest.raises(AuditError, match="refused"):
        group.submit([{"name": "decision", "bad": True}])
    assert sealer.sealed == []
    assert lost.names == ["outcome"]


def test_a_failing_lost_hook_does_not_break_the_writer() -> None:
    def broken_hook(_events: Sequence[dict[str, Any]], _error: BaseException) -> None:
        raise RuntimeError("hook down")

    sealer = ListSealer()
    group = GroupCommit(sealer, on_lost=broken_hook)
    group.defer([{"name": "x", "bad": True}])
    group.flush()
    assert group.submit([{"name": "next"}])[0].hash == "next"
