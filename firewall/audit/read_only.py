"""The audit log as a reader sees it: opened without the writer's key, when first needed."""

from __future__ import annotations

import threading
from typing import Protocol

from firewall.audit.records import AuditRecord
from firewall.audit.store import SqlAuditLog


class AuditReader(Protocol):
    """Reads records of a call (the Slack card sync replies with a call's outcome)."""

    def records_for_call(self, call_id: str) -> list[AuditRecord]:
        """Every record of one call, in sequence order."""
        ...


class ReadOnlyAudit:
    """The log at ``url``, opened read-only on first use (the writer may create it later).

    Holds no signing key and writes nothing; an unreadable log raises
    :class:`~firewall.errors.AuditError` on each use until it can be opened.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._log: SqlAuditLog | None = None
        self._lock = threading.Lock()

    def records_for_call(self, call_id: str) -> list[AuditRecord]:
        """Every record of one call, in sequence order."""
        return self._opened().records_for_call(call_id)

    def close(self) -> None:
        """Release the log's connections, if it was opened."""
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def _opened(self) -> SqlAuditLog:
        with self._lock:
            if self._log is None:
                self._log = SqlAuditLog(self._url, create=False)
            return self._log
