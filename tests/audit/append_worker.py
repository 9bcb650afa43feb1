"""Run in a child process: append audit events to a shared log (see test_concurrency)."""

from __future__ import annotations

from firewall.audit.events import AuditEvent
from firewall.audit.store import SqlAuditLog


def append_events(url: str, worker: int, count: int, batch: int) -> None:
    """Append ``count`` events named after ``worker``, ``batch`` per transaction."""
    with SqlAuditLog(url) as log:
        for start in range(0, count, batch):
            events = [
                AuditEvent(event="decision", call_id=f"w{worker}_{n}", details={"n": n})
                for n in range(start, min(start + batch, count))
            ]
            if batch == 1:
                log.append(events[0])
            else:
                log.append_many(events)
