"""The audit events of holds: created, decided, and refused (written before raising)."""

from __future__ import annotations

from typing import Any, NoReturn

from firewall.approvals.models import HoldRecord, HoldState
from firewall.audit.events import AuditEvent, AuditSink
from firewall.errors import ApprovalError


class HoldAuditor:
    """Appends one audit event per step of a hold's life to ``sink``."""

    def __init__(self, sink: AuditSink) -> None:
        self._sink = sink

    def created(self, record: HoldRecord) -> None:
        """``hold_created``: who may decide, how many must agree, and until when."""
        details = {
            "hold_id": record.hold_id,
            "approvers": record.approvers,
            "quorum": record.quorum,
            "expires_at": record.expires_at.isoformat(),
        }
        self._sink.append(_event("hold_created", record, details, reasons=record.reasons))

    def decided(self, record: HoldRecord, outcome: str, approver: str | None) -> None:
        """``hold_decided``: approval_recorded, approved, denied, expired or executed."""
        self._sink.append(decided_event(record, outcome, approver))

    def refuse(
        self,
        code: str,
        message: str,
        hold_id: str,
        approver: str | None,
        record: HoldRecord | None,
    ) -> NoReturn:
        """Audit ``approval_refused``, then raise it as :class:`ApprovalError`."""
        details: dict[str, Any] = {"hold_id": hold_id, "approver": approver}
        if record is None:
            event = AuditEvent(event="approval_refused", code=code, details=details)
        else:
            event = _event("approval_refused", record, details, code=code)
        self._sink.append(event)
        raise ApprovalError(code, message, hold_id=hold_id)

    def refuse_settled(self, record: HoldRecord, approver: str | None, action: str) -> NoReturn:
        """Refuse to ``action`` a hold that is not in the state it needs."""
        hold_id, state = record.hold_id, record.state
        if state is HoldState.EXPIRED:
            expiry = record.expires_at.isoformat()
            message = f"hold {hold_id} expired at {expiry}; cannot {action} it"
            self.refuse("expired", message, hold_id, approver, record)
        if state is HoldState.PENDING:
            message = f"hold {hold_id} is still pending; cannot {action} it"
        else:
            by = f" (decided by {', '.join(record.decided_by)})" if record.decided_by else ""
            message = f"hold {hold_id} was already {state.value}{by}; cannot {action} it"
        self.refuse("not_pending", message, hold_id, approver, record)


def _event(event: str, record: HoldRecord, details: dict[str, Any], **fields: Any) -> AuditEvent:
    return AuditEvent(
        event=event,
        call_id=record.call_id,
        principal=record.principal,
        tool=record.tool,
        details=details,
        **fields,
    )


def decided_event(record: HoldRecord, outcome: str, approver: str | None) -> AuditEvent:
    """The ``hold_decided`` event of ``record`` reaching ``outcome`` by ``approver``."""
    details = {
        "hold_id": record.hold_id,
        "approver": approver,
        "reason": record.decision_reason,
        "approvals": list(record.approvals),
    }
    return _event("hold_decided", record, details, outcome=outcome)
