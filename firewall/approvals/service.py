"""Deciding held calls: who may decide, quorum, expiry, single use, and waiting.

Every change of a hold is a compare-and-swap on its version, so a double click decides
once and concurrent approvers of a quorum hold all count. Every refusal is audited
before it is raised. A store or audit failure propagates: the pipeline fails closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import cast

from firewall.approvals.auditing import HoldAuditor, decided_event
from firewall.approvals.base import ApprovalStore
from firewall.approvals.journal import AppendMany, DecisionJournal, adopt_journal
from firewall.approvals.masking import mask_text
from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.notify import AsyncSleeper, AsyncWakeup, DecisionNotifier, Sleeper, Wakeup
from firewall.approvals.people import Approvers
from firewall.approvals.waiting import Backoff
from firewall.audit.events import AuditSink
from firewall.errors import StoreError
from firewall.identity import checked_identity
from firewall.types import CallKey, Hold, ToolCall

MAX_CAS_ATTEMPTS = 32

Step = Callable[[HoldRecord, datetime], HoldRecord]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class ApprovalService:
    """Opens, decides, expires and consumes holds in ``store``, auditing each step.

    ``groups`` maps an approver group name to the ids of its members; a hold whose
    group is not configured here can be decided by nobody. ``aliases`` maps other names
    of an approver (e.g. their Slack user id) to their approver id, so that a call
    requested under one name cannot be approved under the other (see
    :mod:`firewall.approvals.people`). ``notifier`` (optional) announces every change
    so that waiters in other processes wake at once.
    """

    def __init__(
        self,
        store: ApprovalStore,
        audit: AuditSink,
        groups: Mapping[str, Collection[str]],
        clock: Callable[[], datetime] = utc_now,
        notifier: DecisionNotifier | None = None,
        *,
        aliases: Mapping[str, str] | None = None,
        journal: DecisionJournal | None = None,
    ) -> None:
        self._store = store
        self._audit = HoldAuditor(audit)
        self._chain = audit
        self._journal = journal
        self._people = Approvers(groups, aliases)
        self._clock = clock
        self.notifier = notifier

    def adopt_decisions(self) -> int:
        """Put the approvers' journaled decisions on the chain (the writer's side); how many.

        Only a service built with a ``journal`` and the chain writer as its audit sink
        adopts; otherwise this does nothing. Raises if the chain cannot take them.
        """
        if self._journal is None:
            return 0
        return adopt_journal(self._journal, cast("AppendMany", self._chain))

    @property
    def groups(self) -> Mapping[str, frozenset[str]]:
        """The approver groups: name -> member ids."""
        return self._people.groups

    def close(self) -> None:
        """Release the store's and the notifier's connections (if they hold any)."""
        for owner in (self._store, self.notifier):
            close = getattr(owner, "close", None)
            if close is not None:
                close()

    def open(self, call: ToolCall, hold: Hold, *, money_arg: str | None = None) -> HoldRecord:
        """Store the pending hold of ``call`` and audit ``hold_created``.

        :class:`DuplicateCallError` (nothing stored or audited) if the call's id already
        names a hold in its tenant, session and agent.
        """
        record = HoldRecord.from_call(call, hold, self._clock(), money_arg=money_arg)
        self._store.create(record)
        self._audit.created(record)
        self._notify(record.hold_id)
        return record

    def get(self, hold_id: str) -> HoldRecord | None:
        """The hold ``hold_id`` as stored, or None."""
        return self._store.get(hold_id)

    def for_call(self, key: CallKey) -> HoldRecord | None:
        """The hold of the call ``key`` names, or None (to resume a paused call, not re-hold it).

        A call id alone names nothing: models reuse ids, so the key carries the tenant,
        session and agent the id was chosen in.
        """
        return self._store.for_call(key)

    def pending(self) -> list[HoldRecord]:
        """The holds still waiting for a decision, oldest first (some may be overdue)."""
        return self._store.list(HoldState.PENDING)

    def approve(self, hold_id: str, approver: str) -> HoldRecord:
        """Count ``approver``'s approval; the hold is approved once the quorum is met."""

        def step(record: HoldRecord, now: datetime) -> HoldRecord:
            if self._people.among(approver, record.approvals):
                message = (
                    f"{approver!r} already approved hold {hold_id}; approvals must be distinct"
                )
                self._audit.refuse("already_approved", message, hold_id, approver, record)
            return record.with_approval(approver, now)

        return self._decide(hold_id, approver, step)

    def deny(self, hold_id: str, approver: str, reason: str | None = None) -> HoldRecord:
        """Deny the hold: one eligible approver's denial is final.

        The free-text ``reason`` is kept with personal data masked: the model, the audit
        log and every approver read it, none of whom may see a customer's data in clear.
        """
        reason = mask_text(reason) if reason else reason
        return self._decide(
            hold_id, approver, lambda record, now: record.with_denial(approver, reason, now)
        )

    def expire_due(self, now: datetime | None = None) -> list[HoldRecord]:
        """Expire every pending hold whose expiry time has passed; return them."""
        now = self._clock() if now is None else now
        expired = (self._expire_if_due(due.hold_id, now) for due in self.pending())
        return [record for record in expired if record is not None]

    def expire_unused(self, now: datetime | None = None) -> list[HoldRecord]:
        """Expire every approved hold whose approval was not used before its expiry."""
        now = self._clock() if now is None else now
        due = [r for r in self._store.list(HoldState.APPROVED) if r.is_due(now)]
        expired = (self._try_expire(record, now) for record in due)
        return [record for record in expired if record is not None]

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
                self._audit.refuse("already_used", message, hold_id, None, record)
            if record.state is not HoldState.APPROVED:
                self._audit.refuse_settled(record, None, "run")
            if (problem := self._unearned(record)) is not None:
                self._audit.refuse("not_an_approver", problem, hold_id, None, record)
            if record.digest != digest:
                message = (
                    f"hold {hold_id} approved a different call (tool, args or principal differ)"
                )
                self._audit.refuse("digest_mismatch", message, hold_id, None, record)
            if record.is_due(now):
                if (expired := self._try_expire(record, now)) is not None:
                    self._audit.refuse_settled(expired, None, "run")
                continue
            executed = record.with_execution()
            if self._store.compare_and_set(record, executed):
                self._audit.decided(executed, "executed", None)
                self._notify(hold_id)
                return executed
        raise StoreError(f"hold {hold_id}: gave up after {MAX_CAS_ATTEMPTS} conflicting updates")

    def give_back(self, executed: HoldRecord) -> HoldRecord | None:
        """Undo the :meth:`consume` that returned ``executed``: its tool never started.

        Only that very use is undone (compare-and-swap on its version), so the approval
        can still authorise one run, until the hold's expiry. None if the hold changed
        since (it was not this use, or it is gone).
        """
        if executed.state is not HoldState.EXECUTED:
            raise ValueError(f"hold {executed.hold_id} is {executed.state.value}, not executed")
        returned = executed.with_approval_returned()
        if not self._store.compare_and_set(executed, returned):
            return None
        self._audit.decided(returned, "approval_returned", None)
        self._notify(executed.hold_id)
        return returned

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
        with self._subscribe(hold_id) as wakeup:
            while True:
                record = self._poll(hold_id)
                if record.state is not HoldState.PENDING or backoff.exhausted:
                    return record
                wakeup.wait(backoff.next_delay())

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
        async with self._asubscribe(hold_id) as wakeup:
            while True:
                record = await asyncio.to_thread(self._poll, hold_id)
                if record.state is not HoldState.PENDING or backoff.exhausted:
                    return record
                await wakeup.wait(backoff.next_delay())

    def _subscribe(self, hold_id: str) -> AbstractContextManager[Wakeup]:
        if self.notifier is None:
            return nullcontext(Sleeper())
        return self.notifier.subscribe(hold_id)

    def _asubscribe(self, hold_id: str) -> AbstractAsyncContextManager[AsyncWakeup]:
        if self.notifier is None:
            return nullcontext(AsyncSleeper())
        return self.notifier.asubscribe(hold_id)

    def _notify(self, hold_id: str) -> None:
        if self.notifier is not None:
            self.notifier.publish(hold_id)

    def _decide(self, hold_id: str, approver: str, step: Step) -> HoldRecord:
        self._check_spelling(hold_id, approver)
        for _ in range(MAX_CAS_ATTEMPTS):
            record = self._load(hold_id, approver)
            now = self._clock()
            if record.state is HoldState.PENDING and record.is_due(now):
                if (expired := self._try_expire(record, now)) is None:
                    continue
                record = expired
            if record.state is not HoldState.PENDING:
                self._audit.refuse_settled(record, approver, "decide")
            self._check_eligible(record, approver)
            decided = step(record, now)
            outcome = (
                "approval_recorded" if decided.state is HoldState.PENDING else decided.state.value
            )
            if self._commit(record, decided, outcome, approver):
                self._notify(hold_id)
                return decided
        raise StoreError(f"hold {hold_id}: gave up after {MAX_CAS_ATTEMPTS} conflicting updates")

    def _unearned(self, record: HoldRecord) -> str | None:
        """Why ``record``'s approval does not meet this process's own rules, or None.

        The store is shared with approvers; the writer trusts no approval it would not
        have granted itself (a row set to approved by hand, a member removed since).
        """
        members = self._people.groups.get(record.approvers or "", frozenset())
        outsiders = [a for a in record.approvals if not self._people.among(a, members)]
        requesters = [a for a in record.approvals if self._people.among(a, record.requesters)]
        people = {self._people.person(a) for a in record.approvals}
        hold_id = record.hold_id
        if outsiders:
            return f"hold {hold_id} was approved by {outsiders[0]!r}, not in {record.approvers!r}"
        if requesters:
            return f"hold {hold_id} was approved by its requester {requesters[0]!r}"
        if len(people) < record.quorum:
            return f"hold {hold_id} has {len(people)} distinct approval(s) of {record.quorum}"
        return None

    def _check_spelling(self, hold_id: str, approver: str) -> None:
        try:
            checked_identity(approver)
        except ValueError as exc:
            message = f"{approver!r} is not an approver id: {exc}"
            self._audit.refuse("not_an_approver", message, hold_id, approver, None)

    def _check_eligible(self, record: HoldRecord, approver: str) -> None:
        hold_id, group = record.hold_id, record.approvers
        if self._people.among(approver, record.requesters):
            message = f"{approver!r} requested the call held by {hold_id} and may not decide it"
            self._audit.refuse("self_approval", message, hold_id, approver, record)
        if group is None:
            message = f"hold {hold_id} names no approver group, so nobody may decide it"
            self._audit.refuse("not_an_approver", message, hold_id, approver, record)
        if group not in self._people.groups:
            message = f"approver group {group!r} is not configured, so nobody may decide {hold_id}"
            self._audit.refuse("not_an_approver", message, hold_id, approver, record)
        if approver not in self._people.groups[group]:
            message = f"{approver!r} is not in approver group {group!r} of hold {hold_id}"
            self._audit.refuse("not_an_approver", message, hold_id, approver, record)

    def _poll(self, hold_id: str) -> HoldRecord:
        record = self._load(hold_id, None)
        now = self._clock()
        if record.state is HoldState.PENDING and record.is_due(now):
            return self._try_expire(record, now) or record
        return record

    def _expire_if_due(self, hold_id: str, now: datetime) -> HoldRecord | None:
        for _ in range(MAX_CAS_ATTEMPTS):
            record = self._store.get(hold_id)
            if record is None or record.state is not HoldState.PENDING or not record.is_due(now):
                return None
            if (expired := self._try_expire(record, now)) is not None:
                return expired
        raise StoreError(f"hold {hold_id}: gave up after {MAX_CAS_ATTEMPTS} conflicting updates")

    def _try_expire(self, record: HoldRecord, now: datetime) -> HoldRecord | None:
        expired = record.with_expiry(now)
        if not self._commit(record, expired, "expired", None):
            return None
        self._notify(record.hold_id)
        return expired

    def _commit(self, old: HoldRecord, new: HoldRecord, outcome: str, who: str | None) -> bool:
        """Compare-and-swap ``old`` to ``new`` and record ``hold_decided``; True iff it won.

        Journaled in the store's own database, the change and its entry commit in one
        transaction: no decision without its record, even if the process dies between.
        """
        journal = self._chain if isinstance(self._chain, DecisionJournal) else None
        if journal is not None and journal.store is self._store:
            event = decided_event(new, outcome, who)
            return journal.store.compare_and_set(
                old, new, also=lambda conn: journal.append_in(conn, event)
            )
        if not self._store.compare_and_set(old, new):
            return False
        self._audit.decided(new, outcome, who)
        return True

    def _load(self, hold_id: str, approver: str | None) -> HoldRecord:
        record = self._store.get(hold_id)
        if record is None:
            self._audit.refuse(
                "unknown_hold", f"there is no hold {hold_id!r}", hold_id, approver, None
            )
        return record
