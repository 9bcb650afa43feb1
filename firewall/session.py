"""What the policy knows of a session: a summary of all its calls, and its latest calls in full.

Policies key off the whole session (untrusted content read at call 3 still taints call 300),
but handing every earlier call to the policy engine costs time on every decision, growing
with the session. So each session keeps a running summary (which tools put which labels into
it, which subjects each tool was allowed to touch, how often each tool ended how) that never
forgets, plus only its latest calls in full (``[policy] session_history``, default
:data:`RECENT_EVENTS`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from firewall.types import Frozen

RECENT_EVENTS = 5
MAX_RECENT_EVENTS = 100
MAX_SUBJECTS_PER_TOOL = 100
"""Beyond this, further subjects of one tool are not added (the earliest name the session)."""
SUBJECT_OUTCOMES = frozenset({"allow", "ok"})
"""A call's subject joins the session once the call was allowed or ran, not when held."""


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


@dataclass
class SessionSummary:
    """One session so far: counts, label sources and subjects of every call; the latest calls."""

    sources: dict[str, set[str]] = field(default_factory=dict)
    subjects: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    recent: deque[SessionEvent] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))

    @classmethod
    def keeping(cls, recent_events: int) -> SessionSummary:
        """An empty summary that keeps the latest ``recent_events`` calls in full."""
        return cls(recent=deque(maxlen=recent_events))

    def add(self, event: SessionEvent) -> None:
        """Fold one more call into the summary."""
        self.recent.append(event)
        outcomes = self.counts.setdefault(event.tool, {})
        outcomes[event.outcome] = outcomes.get(event.outcome, 0) + 1
        for label in event.labels:
            self.sources.setdefault(label, set()).add(event.tool)
        if event.subject is not None and event.outcome in SUBJECT_OUTCOMES:
            self._add_subject(event.tool, event.subject)

    def _add_subject(self, tool: str, subject: str) -> None:
        subjects = self.subjects.setdefault(tool, [])
        if subject not in subjects and len(subjects) < MAX_SUBJECTS_PER_TOOL:
            subjects.append(subject)

    @property
    def calls(self) -> int:
        """How many calls the session made (every outcome of every tool counted)."""
        return sum(sum(outcomes.values()) for outcomes in self.counts.values())

    def document(self) -> dict[str, Any]:
        """The summary as JSON data (for a shared store); :meth:`from_document` reads it."""
        return {
            "sources": {label: sorted(tools) for label, tools in self.sources.items()},
            "subjects": self.subjects,
            "counts": self.counts,
            "recent": [event.policy_view() for event in self.recent],
        }

    @classmethod
    def from_document(cls, data: dict[str, Any], recent_events: int) -> SessionSummary:
        """A summary from :meth:`document` data, keeping ``recent_events`` calls in full."""
        summary = cls.keeping(recent_events)
        summary.sources = {label: set(tools) for label, tools in data["sources"].items()}
        summary.subjects = {tool: list(subjects) for tool, subjects in data["subjects"].items()}
        summary.counts = {tool: dict(outcomes) for tool, outcomes in data["counts"].items()}
        summary.recent.extend(SessionEvent.model_validate(event) for event in data["recent"])
        return summary

    def policy_view(self, session_id: str) -> dict[str, Any]:
        """``input.session`` (see :func:`session_view`)."""
        return {
            "id": session_id,
            "calls": self.calls,
            "labels": sorted(self.sources),
            "sources": {label: sorted(tools) for label, tools in self.sources.items()},
            "subjects": {tool: list(subjects) for tool, subjects in self.subjects.items()},
            "counts": {tool: dict(outcomes) for tool, outcomes in self.counts.items()},
            "history": [event.policy_view() for event in self.recent],
        }


class SessionStore(Protocol):
    """Keeps each session's summary."""

    def policy_view(self, tenant: str, session_id: str) -> dict[str, Any]:
        """``input.session`` for the session's next call."""
        ...

    def history(self, tenant: str, session_id: str) -> list[SessionEvent]:
        """The session's latest events, oldest first."""
        ...

    def record(self, tenant: str, session_id: str, event: SessionEvent) -> None:
        """Add an event to the session."""
        ...


class MemorySessionStore:
    """Session summaries in process memory; thread-safe."""

    def __init__(self, recent_events: int = RECENT_EVENTS) -> None:
        self._recent_events = recent_events
        self._sessions: dict[tuple[str, str], SessionSummary] = {}
        self._lock = threading.Lock()

    def policy_view(self, tenant: str, session_id: str) -> dict[str, Any]:
        with self._lock:
            summary = self._sessions.get((tenant, session_id))
            return session_view(session_id, summary)

    def history(self, tenant: str, session_id: str) -> list[SessionEvent]:
        with self._lock:
            summary = self._sessions.get((tenant, session_id))
            return list(summary.recent) if summary else []

    def record(self, tenant: str, session_id: str, event: SessionEvent) -> None:
        with self._lock:
            summary = self._sessions.get((tenant, session_id))
            if summary is None:
                summary = SessionSummary.keeping(self._recent_events)
                self._sessions[(tenant, session_id)] = summary
            summary.add(event)


def session_view(session_id: str, summary: SessionSummary | None = None) -> dict[str, Any]:
    """``input.session``: ``{id, calls, labels, sources, subjects, counts, history}``.

    ``labels`` every label any tool output gave the session; ``sources`` for each label the
    tools whose output carried it; ``subjects`` for each tool the subjects (customer ids) of
    its allowed calls; ``counts`` for each tool how many calls ended how; ``history`` the
    latest calls ``{tool, outcome, labels, subject}``, oldest first (:data:`RECENT_EVENTS`
    unless configured).
    """
    return (summary or SessionSummary()).policy_view(session_id)


def summarized(session_id: str, events: list[SessionEvent]) -> dict[str, Any]:
    """``input.session`` of a session that made exactly ``events`` (for tests and tools)."""
    summary = SessionSummary()
    for event in events:
        summary.add(event)
    return summary.policy_view(session_id)
