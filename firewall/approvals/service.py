"""Deciding held calls: who may decide, quorum, expiry, single use, and waiting.

Every change of a hold is a compare-and-swap on its version, so a double click decides
once and concurrent approvers of a quorum hold all count. Every refusal is audited
before it is raised. A store or audit failure propagates: the pipeline fails closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from firewall.approvals.base import ApprovalStore
from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.waiting import Backoff
from firewall.audit.events import AuditEvent, AuditSink
from firewall.errors import ApprovalError, ConfigError, StoreError
from firewall.types import Hold, ToolCall

MAX_CAS_ATTEMPTS = 32

Step = Callable[[HoldRecord, datetime], HoldRecord]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class ApprovalService:
    """Opens, decides, expires and consumes holds in ``store``, auditing each step.

    ``groups`` maps an approver group name to the ids of its members; a hold whose
    group is not configured here can be decided by nobody.
    """

    def __init__(
        self,
        store: ApprovalStore,
        audit: AuditSink,
        groups: Mapping[str, Collection[str]],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._audit = audit
        self._groups = _checked_groups(groups)
        self._clock = clock

    def open(self, call: ToolCall, hold: Hold, *, money_arg: str | None = None) -> HoldRecord:
        """Store the pending hold of ``call`` and audit ``hold_created``."""
        record = HoldRecord.from_call(call, hold, self._clock(), money_arg=money_arg)
        self._store.create(record)
        details = {
            "hold_id": record.hold_id,
            "approvers": record.approvers,
            "quorum": record.quorum,
            "expires_at": record.expires_at.isoformat(),
        }
        self._audit.append(_event("hold_created", record, details, reasons=record.reasons))
        return record

    def approve(self, hold_id: str, approver: str) -> HoldRecord:
        """Count ``approver``'s approval; the hold is approved once the quorum is met."""

        def step(record: HoldRecord, now: datetime) -> HoldRecord:
            if approver in record.approvals:
                message = (
                    f"{approver!r} already approved hold {hold_id}; approvals must be distinct"
                )
                self._refuse("already_approved", message, hold_id, approver, record)
            return record.with_approval(approver, now)

        return self._decide(hold_id, approver, step)

    def deny(self, hold_id: str, approver: str, reason: str | None = None) -> HoldRecord:
        """Deny the hold: one eligible approver's denial is final."""
        return self._decide(
            hold_id, approver, lambda record, now: record.with_denial(approver, reason, now)
        )

    def expire_due(self, now: datetime | None = None) -> list[HoldRecord]:
        """Expire every pending hold whose expiry time has passed; return them."""
        now = self._clock() if now is None else now
        expired = []
        for due in self._store.list(HoldState.PENDING):
            for _ in range(MAX_CAS_ATTEMPTS):
                record = self._store.get(due.hold_id)
                if record is None or record.state is not HoldState.PENDING:
                    break
                if not record.is_due(now):
                    break
                if (result := self._try_expire(record, now)) is not None:
                    expired.append(result)
                    break
        return expired

    def consume(self, hold_id: str, digest: str) -> HoldRecord:
        """Use the approval of ``hold_id`` for the one call whose binding digest is ``digest``.

        Call this right before the tool runs. It succeeds at most once per hold, only
        for the approved call, and only until the hold's expiry time.
        """
        for _ in range(MAX_CAS_ATTEMPTS):
            record = self._load(hold_id, None)
            now = self._clock()
            if record.state is HoldState.EXECUTED:
                message = f"the approval of hold {hold_id} was already used; it authorises one run"
                self._refuse("already_used", message, hold_id, None, record)
            if record.state is not HoldState.APPROVED:
                self._refuse_settled(record, None, "run")
            if record.digest != digest:
                message = (
                    f"hold {hold_id} approved a different call (tool, args or principal differ)"
                )
                self._refuse("digest_mismatch", message, hold_id, None, record)
            if record.is_due(now):
                if (expired := self._try_expire(record, now)) is not None:
                    self._refuse_settled(expired, None, "run")
                continue
            executed = record.with_execution()
            if self._store.compare_and_set(record, executed):
                self._audit_decision(executed, "executed", None, None)
                return executed
        raise StoreError(f"hold {hold_id}: gave up after {MAX_CAS_ATTEMPTS} conflicting updates")

    def wait(
        self,
        hold_id: str,
        *,
        poll_initial_s: float = 0.01,
        poll_max_s: float = 0.25,
        timeout_s: float | None = None,
    ) -> HoldRecord:
        """Block until the hold is decided or expired (an expired hold is never approved).

        With ``timeout_s``, return the still-pending hold after sleeping that long.
        """
        backoff = Backoff(poll_initial_s, poll_max_s, timeout_s)
        while True:
            record = self._poll(hold_id)
            if record.state is not HoldState.PENDING or backoff.exhausted:
                return record
            time.sleep(backoff.next_delay())

    async def await_decision(
        self,
        hold_id: str,
        *,
        poll_initial_s: float = 0.01,
        poll_max_s: float = 0.25,
        timeout_s: float | None = None,
    ) -> HoldRecord:
        """The async twin of :meth:`wait`; store calls run in a worker thread."""
        backoff = Backoff(poll_initial_s, poll_max_s, timeout_s)
        while True:
            record = await asyncio.to_thread(self._poll, hold_id)
            if record.state is not HoldState.PENDING or backoff.exhausted:
                return record
            await asyncio.sleep(backoff.next_delay())

    def _decide(self, hold_id: str, approver: str, step: Step) -> HoldRecord:
        for _ in range(MAX_CAS_ATTEMPTS):
            record = self._load(hold_id, approver)
            now = self._clock()
            if record.state is HoldState.PENDING and record.is_due(now):
                if (expired := self._try_expire(record, now)) is None:
                    continue
                record = expired
            if record.state is not HoldState.PENDING:
                self._refuse_settled(record, approver, "decide")
            self._check_eligible(record, approver)
            decided = step(record, now)
            if self._store.compare_and_set(record, decided):
                outcome = (
                    "approval_recorded"
                    if decided.state is HoldState.PENDING
                    else decided.state.value
                )
                self._audit_decision(decided, outcome, approver, decided.decision_reason)
                return decided
        raise StoreError(f"hold {hold_id}: gave up after {MAX_CAS_ATTEMPTS} conflicting updates")

    def _check_eligible(self, record: HoldRecord, approver: str) -> None:
        hold_id, group = record.hold_id, record.approvers
        if approver in record.requesters:
            message = f"{approver!r} requested the call held by {hold_id} and may not decide it"
            self._refuse("self_approval", message, hold_id, approver, record)
        if group is None:
            message = f"hold {hold_id} names no approver group, so nobody may decide it"
            self._refuse("not_an_approver", message, hold_id, approver, record)
        if group not in self._groups:
            message = f"approver group {group!r} is not configured, so nobody may decide {hold_id}"
            self._refuse("not_an_approver", message, hold_id, approver, record)
        if approver not in self._groups[group]:
            message = f"{approver!r} is not in approver group {group!r} of hold {hold_id}"
            self._refuse("not_an_approver", message, hold_id, approver, record)

    def _poll(self, hold_id: str) -> HoldRecord:
        record = self._load(hold_id, None)
        now = self._clock()
        if record.state is HoldState.PENDING and record.is_due(now):
            return self._try_expire(record, now) or record
        return record

    def _try_expire(self, record: HoldRecord, now: datetime) -> HoldRecord | None:
        expired = record.with_expiry(now)
        if not self._store.compare_and_set(record, expired):
            return None
        self._audit_decision(expired, "expired", None, expired.decision_reason)
        return expired

    def _load(self, hold_id: str, approver: str | None) -> HoldRecord:
        record = self._store.get(hold_id)
        if record is None:
            self._refuse("unknown_hold", f"there is no hold {hold_id!r}", hold_id, approver, None)
        return record

    def _refuse_settled(self, record: HoldRecord, approver: str | None, action: str) -> NoReturn:
        hold_id, state = record.hold_id, record.state
        if state is HoldState.EXPIRED:
            message = f"hold {hold_id} expired at {record.expires_at.isoformat()}; cannot {action}"
            self._refuse("expired", message, hold_id, approver, record)
        by = f" by {', '.join(record.decided_by)}" if record.decided_by else ""
        message = f"hold {hold_id} is {state.value}{by}; cannot {action} it"
        self._refuse("not_pending", message, hold_id, approver, record)

    def _refuse(
        self,
        code: str,
        message: str,
        hold_id: str,
        approver: str | None,
        record: HoldRecord | None,
    ) -> NoReturn:
        details: dict[str, Any] = {"hold_id": hold_id, "approver": approver}
        if record is None:
            event = AuditEvent(event="approval_refused", code=code, details=details)
        else:
            event = _event("approval_refused", record, details, code=code)
        self._audit.append(event)
        raise ApprovalError(code, message, hold_id=hold_id)

    def _audit_decision(
        self, record: HoldRecord, outcome: str, approver: str | None, reason: str | None
    ) -> None:
        details = {
            "hold_id": record.hold_id,
            "approver": approver,
            "reason": reason,
            "approvals": list(record.approvals),
        }
        self._audit.append(_event("hold_decided", record, details, outcome=outcome))


def _event(event: str, record: HoldRecord, details: dict[str, Any], **fields: Any) -> AuditEvent:
    """An audit event about ``record``'s call."""
    return AuditEvent(
        event=event,
        call_id=record.call_id,
        principal=record.principal,
        tool=record.tool,
        details=details,
        **fields,
    )


def _checked_groups(groups: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
    checked = {}
    for name, members in groups.items():
        if isinstance(members, str) or not all(isinstance(m, str) and m for m in members):
            raise ConfigError(f"approver_groups.{name}", "must be a list of approver ids")
        checked[name] = frozenset(members)
    return checked
