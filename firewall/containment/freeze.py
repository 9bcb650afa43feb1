"""The kill switch: freeze an agent, a tenant or everything, across every worker.

The freeze list lives in a shared store (Redis, or the SQL database when there is no
Redis); each process keeps a copy for at most ``freeze_cache_s`` (< 1 s), so a freeze
stops every worker within a second while a check costs one dict lookup.

The copy is trusted to say "not frozen" only while the store answered less than
``freeze_cache_s`` ago and has not failed since, and never for the last look before a
high-risk or money-moving call (:func:`firewall.stages.freeze.reads_through`): that look
asks the store, and if the store cannot answer the call does not run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol

from pydantic import AfterValidator, Field

from firewall.identity import checked_identity, identity_key
from firewall.types import Frozen, Principal

FreezeKind = Literal["agent", "tenant", "all"]


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def _empty_or_identity(name: str) -> str:
    return checked_identity(name) if name else name


class FreezeTarget(Frozen):
    """Whom a freeze stops: one agent, one tenant, or every call (``all``).

    The name is an identity (a look-alike spelling would freeze nobody, silently); it
    stops every spelling of that name that differs only in case (see :func:`targets_of`).
    """

    kind: FreezeKind
    name: Annotated[str, Field(max_length=128), AfterValidator(_empty_or_identity)] = ""

    @property
    def key(self) -> str:
        """``agent:<id>``, ``tenant:<id>`` or ``all``."""
        return "all" if self.kind == "all" else f"{self.kind}:{self.name}"

    @classmethod
    def parse(cls, key: str) -> FreezeTarget:
        """The target of ``key`` (as produced by :attr:`key`)."""
        if key == "all":
            return cls(kind="all")
        kind, _, name = key.partition(":")
        if kind not in ("agent", "tenant") or not name:
            raise ValueError(f"not a freeze target: {key!r} (agent:<id>, tenant:<id> or all)")
        return cls.model_validate({"kind": kind, "name": name})


def targets_of(principal: Principal) -> tuple[str, ...]:
    """The freeze keys that stop ``principal``'s calls, most specific first."""
    return (f"agent:{principal.agent_id}", f"tenant:{principal.tenant}", "all")


def lookup_key(target: str) -> str:
    """``target`` (a freeze key) as compared: its name by :func:`identity_key`."""
    kind, _, name = target.partition(":")
    return f"{kind}:{identity_key(name)}" if name else kind


class FreezeEntry(Frozen):
    """One freeze: whom, why, by whom, when; ``automatic`` if the circuit breaker did it."""

    target: str
    reason: str
    by: str
    at: datetime = Field(default_factory=utc_now)
    automatic: bool = False

    def describe(self) -> str:
        """Why a call is refused, for the agent and the audit."""
        who = "the circuit breaker" if self.automatic else self.by
        return f"{self.target} is frozen by {who} since {self.at.isoformat()}: {self.reason}"


class FreezeStore(Protocol):
    """The shared freeze list."""

    where: str

    def freeze(self, entry: FreezeEntry, *, overwrite: bool = True) -> bool:
        """Store ``entry``; True if its target was not frozen before."""
        ...

    def unfreeze(self, target: str) -> bool:
        """Lift the freeze of ``target``; True if it was frozen."""
        ...

    def snapshot(self) -> dict[str, FreezeEntry]:
        """Every freeze in force, by target key."""
        ...


class MemoryFreezeStore:
    """A freeze list for one process (tests, single-worker setups)."""

    where = "in-process memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, FreezeEntry] = {}

    def freeze(self, entry: FreezeEntry, *, overwrite: bool = True) -> bool:
        with self._lock:
            new = entry.target not in self._entries
            if new or overwrite:
                self._entries[entry.target] = entry
            return new

    def unfreeze(self, target: str) -> bool:
        with self._lock:
            return self._entries.pop(target, None) is not None

    def snapshot(self) -> dict[str, FreezeEntry]:
        with self._lock:
            return dict(self._entries)


class CachedFreezes:
    """A store with a short-lived local copy of its list; what the freeze stage asks."""

    def __init__(
        self,
        store: FreezeStore,
        ttl_s: float = 0.5,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.where = store.where
        self._ttl_s = ttl_s
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._copy: Mapping[str, FreezeEntry] = {}
        self._fetched_at: float | None = None

    def matching(self, principal: Principal, *, fresh: bool = False) -> FreezeEntry | None:
        """The freeze that stops ``principal``, if any; raises if the store cannot answer.

        The rule for the local copy: it answers "not frozen" only while the store last
        answered less than ``ttl_s`` ago and has not failed since, and never when
        ``fresh`` is asked (the last look before a high-risk or money call): then the
        store itself answers, or the call is refused. A copy that already freezes the
        principal still refuses the call, however old.
        """
        try:
            entries = self._read() if fresh else self._current()
        except Exception:
            self.invalidate()  # a store seen failing: its copy no longer vouches for anyone
            stale = self._find(self._copy, principal)
            if stale is not None:
                return stale
            raise
        return self._find(entries, principal)

    def freeze(self, entry: FreezeEntry, *, overwrite: bool = True) -> bool:
        """Freeze in the shared store; this process sees it at once."""
        new = self.store.freeze(entry, overwrite=overwrite)
        self.invalidate()
        return new

    def unfreeze(self, target: str) -> bool:
        """Lift a freeze in the shared store; this process sees it at once."""
        lifted = self.store.unfreeze(target)
        self.invalidate()
        return lifted

    def invalidate(self) -> None:
        """Forget the local copy; the next check reads the store."""
        with self._lock:
            self._fetched_at = None

    def _current(self) -> Mapping[str, FreezeEntry]:
        now = self._clock()
        with self._lock:
            if self._fetched_at is not None and now - self._fetched_at < self._ttl_s:
                return self._copy
        return self._read()

    def _read(self) -> Mapping[str, FreezeEntry]:
        now = self._clock()
        entries = self.store.snapshot()
        with self._lock:
            self._copy, self._fetched_at = entries, now
        return entries

    @staticmethod
    def _find(entries: Mapping[str, FreezeEntry], principal: Principal) -> FreezeEntry | None:
        by_key = {lookup_key(target): entry for target, entry in entries.items()}
        for key in targets_of(principal):
            if (entry := by_key.get(lookup_key(key))) is not None:
                return entry
        return None
