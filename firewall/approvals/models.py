"""A held call as the approval store keeps it, and the state machine it moves through."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

from firewall.types import CallKey, Frozen, Hold, Identity, ToolCall


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_as_utc)]
"""A timezone-aware datetime, normalised to UTC (naive datetimes are rejected)."""


DECISION_FIELDS = ("state", "approvals", "decided_by", "decided_at", "decision_reason", "version")
"""The only fields of a hold that change after it is created."""


class HoldState(StrEnum):
    """Where a hold is in its life: pending, then decided once, then maybe executed."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    EXECUTED = "executed"


class HoldRecord(Frozen):
    """One held call: what was asked, who may decide, and what was decided.

    ``digest`` is the call's binding digest; an approval authorises exactly that call,
    once. ``version`` increases with every change, for compare-and-swap. The call id is
    the model's, so it identifies the call only within :attr:`key` (tenant, session, agent).
    """

    hold_id: Annotated[str, Field(min_length=1, max_length=128)]
    call_id: Annotated[str, Field(min_length=1, max_length=128)]
    session_id: Identity
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    tool: str
    args: dict[str, Any]
    principal: dict[str, Any]
    reasons: tuple[str, ...] = ()
    approvers: str | None = Field(description="Approver group; None means nobody may approve.")
    quorum: Annotated[int, Field(ge=1)] = 1
    money_arg: str | None = Field(default=None, description="Argument carrying an amount.")
    created_at: UtcDatetime
    expires_at: UtcDatetime
    state: HoldState = HoldState.PENDING
    approvals: tuple[str, ...] = ()
    decided_by: tuple[str, ...] = ()
    decided_at: UtcDatetime | None = None
    decision_reason: str | None = None
    version: Annotated[int, Field(ge=0)] = 0

    @classmethod
    def from_call(
        cls, call: ToolCall, hold: Hold, created_at: datetime, *, money_arg: str | None = None
    ) -> HoldRecord:
        """The pending record of ``call``, held by the decision ``hold``."""
        if hold.call_id != call.call_id:
            raise ValueError(f"hold {hold.hold_id} is for call {hold.call_id}, not {call.call_id}")
        return cls(
            hold_id=hold.hold_id,
            call_id=call.call_id,
            session_id=call.session_id,
            digest=call.binding_digest(),
            tool=call.tool,
            args=call.args,
            principal=call.principal.policy_view(),
            reasons=hold.reasons,
            approvers=hold.approvers,
            quorum=hold.quorum,
            money_arg=money_arg,
            created_at=created_at,
            expires_at=hold.expires_at,
        )

    @property
    def key(self) -> CallKey:
        """The scope in which the held call's id is unique."""
        return CallKey(
            tenant=str(self.principal.get("tenant")),
            session_id=self.session_id,
            agent_id=str(self.principal.get("agent_id")),
            call_id=self.call_id,
        )

    @property
    def requesters(self) -> frozenset[str]:
        """Who asked for the call (the human operator and the agent); never its approvers."""
        names = (self.principal.get("requested_by"), self.principal.get("agent_id"))
        return frozenset(str(name) for name in names if name)

    @property
    def amount(self) -> Any:
        """The value of the money argument, if the tool has one."""
        return self.args.get(self.money_arg) if self.money_arg else None

    def is_due(self, now: datetime) -> bool:
        """True once ``now`` has reached the expiry time."""
        return now >= self.expires_at

    def with_approval(self, approver: str, now: datetime) -> HoldRecord:
        """The next version with ``approver`` counted; approved once the quorum is met."""
        approvals = (*self.approvals, approver)
        if len(approvals) < self.quorum:
            return self._next(approvals=approvals)
        return self._next(
            state=HoldState.APPROVED, approvals=approvals, decided_by=approvals, decided_at=now
        )

    def with_denial(self, approver: str, reason: str | None, now: datetime) -> HoldRecord:
        """The next version, denied by ``approver``."""
        return self._next(
            state=HoldState.DENIED, decided_by=(approver,), decided_at=now, decision_reason=reason
        )

    def with_expiry(self, now: datetime) -> HoldRecord:
        """The next version, expired: undecided in time, or approved but not used in time."""
        reason = "approval expired unused" if self.state is HoldState.APPROVED else "expired"
        return self._next(
            state=HoldState.EXPIRED, decided_at=self.decided_at or now, decision_reason=reason
        )

    def with_execution(self) -> HoldRecord:
        """The next version, its approval used up by the one run it authorised."""
        return self._next(state=HoldState.EXECUTED)

    def with_approval_returned(self) -> HoldRecord:
        """The next version, approved again: the run it was used for never started."""
        return self._next(state=HoldState.APPROVED)

    def _next(self, **changes: Any) -> HoldRecord:
        return self.model_copy(update={**changes, "version": self.version + 1})
