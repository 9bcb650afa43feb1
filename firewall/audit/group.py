"""Group commit in one process, and events sealed off the caller's path.

:class:`GroupCommit` lets the thread that gets the commit lock seal every event queued
meanwhile by other threads, in one transaction. A caller of :meth:`GroupCommit.submit`
returns only once the transaction holding its events has committed.

:meth:`GroupCommit.defer` queues events nobody waits for (the outcome record of a tool
that already ran). They ride along in the next transaction, whoever runs it, or are
sealed by :meth:`GroupCommit.flush` (a background thread, a reader, ``close``). So a
deferred event is sealed, in order, no later than the next event submitted after it:
the chain never shows a decision without the outcomes this process deferred before it.
If a transaction fails, every caller waiting on it gets the error (its call is refused)
and its deferred events are reported to ``on_lost``: their calls stay "in doubt", which
the verifier reports. Deferred events are checked for a canonical JSON form before they
are queued, so one of them can hardly be the cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import structlog

from firewall.audit.records import SealedRecord

Sealer = Callable[[Sequence[dict[str, Any]]], list[SealedRecord]]
LostHook = Callable[[Sequence[dict[str, Any]], BaseException], None]
DEFAULT_MAX_DEFERRED = 1000
log = structlog.get_logger("firewall.audit")


def log_lost(events: Sequence[dict[str, Any]], error: BaseException) -> None:
    """The default ``on_lost``: one error line per event that was never sealed."""
    for data in events:
        log.error(
            "audit_event_not_sealed",
            audit_event=data.get("event"),
            call_id=data.get("call_id"),
            error=type(error).__name__,
        )


class GroupCommit:
    """Batches the appends of one process, waited for or deferred, into sealing calls."""

    def __init__(
        self,
        sealer: Sealer,
        *,
        max_deferred: int = DEFAULT_MAX_DEFERRED,
        on_lost: LostHook = log_lost,
    ) -> None:
        self._sealer = sealer
        self._max_deferred = max_deferred
        self._on_lost = on_lost
        self._commit_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Ticket] = []
        self._deferred = 0
        self._deferred_since = 0.0

    @property
    def deferred(self) -> int:
        """How many deferred events are queued and not yet taken for sealing."""
        return self._deferred

    def deferred_age(self) -> float:
        """Seconds the oldest deferred event still queued has waited (0.0 if none)."""
        with self._queue_lock:
            return time.monotonic() - self._deferred_since if self._deferred else 0.0

    def submit(self, events: Sequence[dict[str, Any]]) -> list[SealedRecord]:
        """Seal ``events`` (with whatever else is queued); return once committed."""
        ticket = _Ticket(list(events), deferred=False)
        with self._queue_lock:
            self._queue.append(ticket)
        with self._commit_lock:
            if not ticket.done.is_set():
                self._run(self._take())
        return ticket.outcome()

    def defer(self, events: Sequence[dict[str, Any]]) -> bool:
        """Queue ``events`` to be sealed later; False (nothing queued) if the queue is full."""
        with self._queue_lock:
            if self._deferred + len(events) > self._max_deferred:
                return False
            self._queue.append(_Ticket(list(events), deferred=True))
            if not self._deferred:
                self._deferred_since = time.monotonic()
            self._deferred += len(events)
        return True

    def flush(self) -> None:
        """Seal everything queued now; return once it is committed (or reported lost)."""
        with self._commit_lock:
            batch = self._take()
            if batch:
                self._run(batch)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off every append of this process (for maintenance on the same writer)."""
        with self._commit_lock:
            yield

    def _take(self) -> list[_Ticket]:
        with self._queue_lock:
            batch, self._queue = self._queue, []
            self._deferred = 0
        return batch

    def _run(self, batch: list[_Ticket]) -> None:
        try:
            records = self._sealer([event for ticket in batch for event in ticket.events])
        except BaseException as exc:  # noqa: BLE001 - every waiter must get the error
            # No retry: a cross-process sealer may have handed the events over already.
            for ticket in batch:
                self._fail(ticket, exc)
            return
        start = 0
        for ticket in batch:
            ticket.succeed(records[start : start + len(ticket.events)])
            start += len(ticket.events)

    def _fail(self, ticket: _Ticket, error: BaseException) -> None:
        ticket.fail(error)
        if ticket.deferred:
            try:
                self._on_lost(ticket.events, error)
            except Exception:  # reporting must not break the writer
                log.exception("audit_lost_hook_failed")


class _Ticket:
    __slots__ = ("_error", "_records", "deferred", "done", "events")

    def __init__(self, events: list[dict[str, Any]], *, deferred: bool) -> None:
        self.events = events
        self.deferred = deferred
        self.done = threading.Event()
        self._records: list[SealedRecord] = []
        self._error: BaseException | None = None

    def succeed(self, records: list[SealedRecord]) -> None:
        self._records = records
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self.done.set()

    def outcome(self) -> list[SealedRecord]:
        if self._error is not None:
            raise self._error
        return self._records
