"""Helpers of the containment tests: clean Redis keys, close stores."""

from __future__ import annotations

import socket

import redis

from firewall.audit.events import AuditEvent
from firewall.errors import AuditError


def delete_prefix(url: str, prefix: str) -> None:
    """Remove every key under ``prefix`` (including the limits library's)."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.delete(key)
    finally:
        client.close()


def closing(resource: object) -> None:
    """Close ``resource`` if it has connections to close."""
    close = getattr(resource, "close", None)
    if close is not None:
        close()


class ListAudit:
    """An audit sink that keeps events in a list (the AuditSink protocol's test form)."""

    def __init__(self, *, broken: bool = False) -> None:
        self.events: list[AuditEvent] = []
        self.broken = broken

    def append(self, event: AuditEvent) -> AuditEvent:
        if self.broken:
            raise AuditError("audit log unavailable")
        self.events.append(event)
        return event

    def of(self, kind: str) -> list[AuditEvent]:
        """The events of type ``kind``."""
        return [event for event in self.events if event.event == kind]


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
