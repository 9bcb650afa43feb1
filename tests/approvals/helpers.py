"""Builders for approval tests: calls, holds, and an audit sink that records events."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from firewall.approvals import ApprovalService, HoldRecord, SqlApprovalStore
from firewall.approvals.journal import DecisionJournal, adopt_journal
from firewall.audit import SqlAuditLog
from firewall.audit.events import AuditEvent
from firewall.audit.records import AuditRecord
from firewall.types import Hold, Principal, ToolCall, new_id

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
GROUPS = {"supervisors": frozenset({"alice", "carol", "dave"}), "finance": frozenset({"erin"})}


class RecordingSink:
    """An audit sink that keeps every event in memory (thread-safe)."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def append(self, event: AuditEvent) -> AuditEvent:
        with self._lock:
            self.events.append(event)
        return event

    def of(self, kind: str) -> list[AuditEvent]:
        """The events of type ``kind``, in order."""
        return [event for event in self.events if event.event == kind]


def make_call(
    *, agent_id: str = "support-bot", requested_by: str | None = "bob", **args: Any
) -> ToolCall:
    """A refund call by ``agent_id`` on behalf of operator ``requested_by``."""
    principal = Principal(agent_id=agent_id, tenant="acme", requested_by=requested_by)
    return ToolCall(
        tool="issue_refund", args=args or {"amount": 250}, principal=principal, session_id="s-1"
    )


def make_hold(
    call: ToolCall,
    *,
    expires_at: datetime,
    approvers: str | None = "supervisors",
    quorum: int = 1,
) -> Hold:
    """The hold decision for ``call``."""
    return Hold(
        call_id=call.call_id,
        hold_id=new_id("hold"),
        approvers=approvers,
        quorum=quorum,
        expires_at=expires_at,
        reasons=("refunds over 100 need a supervisor",),
    )


def open_hold(
    service: ApprovalService,
    *,
    now: datetime | None = None,
    approvers: str | None = "supervisors",
    quorum: int = 1,
    call: ToolCall | None = None,
) -> tuple[ToolCall, HoldRecord]:
    """Open a hold on a fresh call that expires ``TTL`` after ``now`` (default: the clock)."""
    call = call or make_call()
    expires_at = (now or datetime.now(UTC)) + TTL
    hold = make_hold(call, expires_at=expires_at, approvers=approvers, quorum=quorum)
    return call, service.open(call, hold, money_arg="amount")


def chain_records(db_url: str) -> list[AuditRecord]:
    """The chain's records after the writer adopted the approvers' journal (as the gate does)."""
    with SqlApprovalStore(db_url) as store, SqlAuditLog(db_url) as log:
        adopt_journal(DecisionJournal(store), log)
        return list(log.records())
