"""What the pipeline hands the audit log: one event, before sequence and hashes exist."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import Field

from firewall.types import Frozen


class AuditEvent(Frozen):
    """One thing that happened to one call (or to the firewall itself).

    ``event`` is one of: ``decision`` (written before the tool runs), ``outcome``
    (after it ran: outcome ``ok`` or ``error``), ``hold_created``, ``hold_decided``,
    ``approval_refused``, ``invalid_call``; the log itself writes ``subject_erased`` and
    ``key_rotated``. ``details`` holds JSON-safe extras; it never holds secrets or raw
    personal data.

    Personal data may be handed in raw in exactly two places, and the log never stores it
    raw: ``principal["on_behalf_of"]`` (the data subject) and the ``args`` named in
    ``personal_args``. Before sealing, the log replaces each such value by a reference to
    a keyed commitment and keeps the value encrypted under the subject's key, apart from
    the chain (see :mod:`firewall.audit.vault`).
    """

    event: str
    call_id: str | None = None
    decision_id: str | None = None
    principal: dict[str, Any] | None = None
    tool: str | None = None
    outcome: str | None = None
    code: str | None = None
    reasons: tuple[str, ...] = ()
    policy_revision: str | None = None
    args: dict[str, Any] | None = None
    personal_args: tuple[str, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)


class AuditSink(Protocol):
    """Anything that durably appends audit events (the SQL audit log, or a test list)."""

    def append(self, event: AuditEvent) -> object:
        """Append ``event``; raise :class:`firewall.errors.AuditError` if it cannot."""
        ...
