"""What the firewall decided for each call, so a re-run of the call finds it.

Agent runtimes re-execute a tool call: LangGraph re-runs a tools node from the start on
every resume (after a tool's own ``interrupt()``, or another middleware's), and retry
middleware calls the tool again after a failure. Each is the same call (same tenant,
session, agent and call id), already decided and audited: deciding it again would count it
twice against rate limits, refuse it as a duplicate budget reservation, or ask a human a
second time. This memo keeps the final decision of each call, in this process, for as long
as a re-run is likely (bounded by count).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

from firewall.types import Allow, CallKey, Deny, Hold

MAX_REMEMBERED = 50_000


@dataclass(frozen=True)
class Decided:
    """A call's final decision: ``digest`` binds it to exactly that call."""

    digest: str
    decision: Allow | Deny | Hold
    hold_id: str | None = None  # the hold it went through, if any
    redact: tuple[str, ...] = ()
    started: bool = False  # an approved call's tool started: its approval is spent
    origin: str | None = None  # where the call came from (an adapter's model message)


def remembered(decision: Allow | Deny | Hold) -> bool:
    """Whether a re-run should find ``decision``: an allowed or held call's.

    A refused call never reached its tool, so nothing re-runs it but a new attempt, which
    is refused (and audited) again; a held call refused by its approver is judged again
    from the approval store.
    """
    return not isinstance(decision, Deny)


class DecisionMemo:
    """Final decisions by call key; the oldest are forgotten first."""

    def __init__(self, capacity: int = MAX_REMEMBERED) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[CallKey, Decided] = OrderedDict()

    def get(self, key: CallKey) -> Decided | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: CallKey, decided: Decided) -> None:
        if not remembered(decided.decision):
            return
        with self._lock:
            self._entries[key] = decided
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def mark_started(self, key: CallKey) -> None:
        """The call's tool started: a held call's approval cannot authorise another run."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found.hold_id is not None:
                self._entries[key] = replace(found, started=True)

    def forget(self, key: CallKey) -> None:
        """The call did not run after all (refused at the last look): decide it afresh."""
        with self._lock:
            self._entries.pop(key, None)
