"""Helpers of the containment tests: clean Redis keys, close stores, own a redis-server."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

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


class OwnRedis:
    """A throwaway redis-server: no persistence, in a temp dir, on a free port."""

    def __init__(self, workdir: Path) -> None:
        self.port = closed_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self._workdir),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None
