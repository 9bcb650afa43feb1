"""Totals in this process only, under one lock: the memory twin of the Redis store."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from firewall.totals.base import RECORD_TTL_S, Entry, Reserved, Tally


@dataclass
class _Record:
    owner: str
    entries: tuple[Entry, ...]
    until: float
    spent: bool = False


class MemoryTotals:
    """Tallies and reservation records in dictionaries; one lock makes each step atomic."""

    where = "in-process memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[str, Tally] = {}
        self._records: dict[str, _Record] = {}

    def read(self, keys: Sequence[str]) -> list[Tally]:
        with self._lock:
            return [self._tallies.get(key, Tally()) for key in keys]

    def reserve(self, reservation_id: str, entries: Sequence[Entry], *, owner: str) -> Reserved:
        now = time.monotonic()
        with self._lock:
            self._forget_old_records(now)
            if reservation_id in self._records:
                return Reserved(admitted=False, duplicate=True)
            for entry in entries:
                if self._tallies.get(entry.key, Tally()) != entry.seen:
                    return Reserved(admitted=False, changed=entry.key)
            for entry in entries:
                self._add(entry.key, entry.cents, 1)
            self._records[reservation_id] = _Record(owner, tuple(entries), now + RECORD_TTL_S)
        return Reserved(admitted=True)

    def commit(self, reservation_id: str, *, owner: str) -> bool:
        with self._lock:
            record = self._records.get(reservation_id)
            if record is None or record.owner != owner or record.spent:
                return False
            record.spent = True
        return True

    def release(self, reservation_id: str, *, owner: str) -> bool:
        with self._lock:
            record = self._records.get(reservation_id)
            if record is None or record.owner != owner or record.spent:
                return False
            del self._records[reservation_id]
            for entry in record.entries:
                self._add(entry.key, -entry.cents, -1)
        return True

    def close(self) -> None:
        """Nothing to release."""

    def _add(self, key: str, cents: int, calls: int) -> None:
        tally = self._tallies.get(key, Tally())
        self._tallies[key] = Tally(tally.cents + cents, tally.calls + calls)

    def _forget_old_records(self, now: float) -> None:
        # Insertion order is time order: a record past its time can no longer be released.
        while self._records:
            rid, record = next(iter(self._records.items()))
            if record.until > now:
                return
            del self._records[rid]
