"""Helpers of the bench tests."""

from __future__ import annotations

from firewall.audit.store import SqlAuditLog


def audited(log: object) -> list[tuple[str, str | None, str | None]]:
    """(event, tool, outcome) of every record of ``log``, deferred outcomes written first."""
    assert isinstance(log, SqlAuditLog)
    flush = getattr(log, "flush", None)  # outcome records may be written in batches
    if flush is not None:
        flush()
    return [(record.event, record.tool, record.outcome) for record in log.records()]
