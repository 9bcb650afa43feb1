"""Money budgets: reserve an amount against moving windows atomically, release it by id.

Amounts are integer minor units (cents), so no float error accumulates. A reservation
is all-or-nothing over every bucket a call counts against. Its id is the call's scoped
key (tenant, session, agent, call id: see :func:`firewall.stages.budgets.reservation_of`),
and it records its *owner*: the hold that will decide the call, or :data:`UNHELD`.

A reservation is in one of three states:

- **reserved**: counted, from the moment the budget stage admits the call;
- **spent**: still counted until its window ends, once the tool may have started. There
  is no operation for it: nothing ever gives a spent reservation back;
- **released**: no longer counted. Only the gate releases, and only for a call that
  provably never ran: refused before it ran, its hold denied, or its hold expired unused.

Release is atomic and idempotent, and names the owner: a second release, a stale one, or
one for another reservation that reuses the id changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Protocol

from firewall.containment.settings import LimitSettings
from firewall.containment.stores import describe_url, is_redis
from firewall.errors import ConfigError

MINOR_UNITS = 100
UNHELD = "unheld"
"""The owner of a reservation whose call was not held (a held call's owner is its hold id)."""


def to_minor_units(amount: object) -> int:
    """``amount`` in cents, rounded up; TypeError/ValueError unless a finite number >= 0."""
    if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal | str):
        raise TypeError(f"must be a number, got {type(amount).__name__}")
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"must be a number, got {amount!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"must be a finite number >= 0, got {amount!r}")
    return int((value * MINOR_UNITS).to_integral_value(rounding=ROUND_CEILING))


def money(minor: int) -> str:
    """Cents as text: ``200000`` -> ``2000.00``."""
    return f"{Decimal(minor) / MINOR_UNITS:.2f}"


@dataclass(frozen=True)
class Bucket:
    """One budget a call counts against: ``limit`` cents within ``window_s`` seconds."""

    key: str
    limit: int
    window_s: int
    label: str = field(default="", compare=False)


@dataclass(frozen=True)
class Reservation:
    """The answer to a reservation; ``exhausted`` names the bucket that refused."""

    admitted: bool
    exhausted: Bucket | None = None
    used: int = 0
    retry_after_s: float | None = None
    duplicate: bool = False


class BudgetLedger(Protocol):
    """Where reservations live: process memory, or Redis for every worker at once."""

    where: str

    def reserve(
        self, reservation_id: str, amount: int, buckets: Sequence[Bucket], *, owner: str = UNHELD
    ) -> Reservation:
        """Reserve ``amount`` in every bucket, or in none; a known id is refused as duplicate."""
        ...

    def release(self, reservation_id: str, *, owner: str = UNHELD) -> bool:
        """Give back ``reservation_id`` if ``owner`` owns it; False (nothing changed) if not."""
        ...

    def used(self, bucket: Bucket) -> int:
        """Cents reserved in ``bucket``'s current window."""
        ...


class _Window:
    """One bucket's reservations in time order, with their running total."""

    def __init__(self) -> None:
        self.order: deque[tuple[float, str]] = deque()
        self.entries: dict[str, tuple[float, int]] = {}
        self.total = 0

    def evict(self, horizon: float) -> None:
        while self.order and self.order[0][0] <= horizon:
            at, rid = self.order.popleft()
            if self.entries.get(rid, (None, 0))[0] == at:  # not released, not re-reserved
                self.total -= self.entries.pop(rid)[1]

    def add(self, rid: str, at: float, amount: int) -> None:
        self.order.append((at, rid))
        self.entries[rid] = (at, amount)
        self.total += amount

    def remove(self, rid: str) -> None:
        if rid in self.entries:  # its place in ``order`` lapses unseen
            self.total -= self.entries.pop(rid)[1]


class MemoryBudgetLedger:
    """Reservations in this process only, under one lock."""

    where = "in-process memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._reservations: dict[str, tuple[float, tuple[str, ...], str]] = {}

    def reserve(
        self, reservation_id: str, amount: int, buckets: Sequence[Bucket], *, owner: str = UNHELD
    ) -> Reservation:
        now = time.time()
        with self._lock:
            self._forget_old_reservations(now)
            if reservation_id in self._reservations:
                return Reservation(admitted=False, duplicate=True)
            for bucket in buckets:
                window = self._window(bucket, now)
                if window.total + amount > bucket.limit:
                    oldest = window.order[0][0] if window.order else now
                    retry = max(0.0, oldest + bucket.window_s - now)
                    return Reservation(False, bucket, window.total, retry)
            for bucket in buckets:
                self._window(bucket, now).add(reservation_id, now, amount)
            longest = max(bucket.window_s for bucket in buckets)
            keys = tuple(bucket.key for bucket in buckets)
            self._reservations[reservation_id] = (now + longest, keys, owner)
        return Reservation(admitted=True)

    def release(self, reservation_id: str, *, owner: str = UNHELD) -> bool:
        with self._lock:
            found = self._reservations.get(reservation_id)
            if found is None or found[2] != owner:
                return False
            del self._reservations[reservation_id]
            for key in found[1]:
                if key in self._windows:
                    self._windows[key].remove(reservation_id)
        return True

    def used(self, bucket: Bucket) -> int:
        with self._lock:
            return self._window(bucket, time.time()).total

    def _window(self, bucket: Bucket, now: float) -> _Window:
        window = self._windows.setdefault(bucket.key, _Window())
        window.evict(now - bucket.window_s)
        return window

    def _forget_old_reservations(self, now: float) -> None:
        # Oldest first; one with a longer window may keep later ones a while (harmless).
        while self._reservations:
            rid, (until, *_) = next(iter(self._reservations.items()))
            if until > now:
                return
            del self._reservations[rid]


def ledger_from_url(url: str, settings: LimitSettings | None = None) -> BudgetLedger:
    """``memory://`` or ``redis://host:port/db``."""
    settings = settings or LimitSettings()
    if is_redis(url):
        from firewall.containment.budgets_redis import RedisBudgetLedger  # noqa: PLC0415

        return RedisBudgetLedger(url, settings)
    if url.startswith("memory://"):
        return MemoryBudgetLedger()
    raise ConfigError(
        "storage.limits_url", f"no budget ledger for {describe_url(url)}; use memory:// or redis://"
    )
