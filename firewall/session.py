"""What the policy knows of a session: its earlier calls, their outcomes and data labels."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Protocol

from firewall.types import Frozen

MAX_EVENTS_PER_SESSION = 100


class SessionEvent(Frozen):
    """One earlier call in the session, as the policy sees it."""

    tool: str
    outcome: str  # allow | deny | hold | ok | error
    labels: tuple[str, ...] = ()
    subject: str | None = None

    def policy_view(self) -> dict[str, Any]:
        """The event in the policy input (``input.session.history[i]``)."""
        return {
            "tool": self.tool,
            "outcome": self.outcome,
            "labels": list(self.labels),
            "subject": self.subject,
        }


class SessionStore(Protocol):
    """Keeps each session's recent events."""

    def history(self, tenant: str, session_id: str) -> list[SessionEvent]:
        """The session's events, oldest first."""
        ...

    def record(self, tenant: str, session_id: str, event: SessionEvent) -> None:
        """Append an event to the session."""
        ...


class MemorySessionStore:
    """Sessions in process memory, each capped at its most recent events; thread-safe."""

    def __init__(self, max_events: int = MAX_EVENTS_PER_SESSION) -> None:
        self._max = max_events
        self._sessions: dict[tuple[str, str], deque[SessionEvent]] = {}
        self._lock = threading.Lock()

    def history(self, tenant: str, session_id: str) -> list[SessionEvent]:
        with self._lock:
            return list(self._sessions.get((tenant, session_id), ()))

    def record(self, tenant: str, session_id: str, event: SessionEvent) -> None:
        with self._lock:
            events = self._sessions.setdefault((tenant, session_id), deque(maxlen=self._max))
            events.append(event)


def session_view(session_id: str, events: list[SessionEvent]) -> dict[str, Any]:
    """``input.session``: the id, the history and the union of its labels."""
    labels = sorted({label for event in events for label in event.labels})
    return {
        "id": session_id,
        "history": [event.policy_view() for event in events],
        "labels": labels,
    }
