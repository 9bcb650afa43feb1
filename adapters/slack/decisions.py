"""Turning a verified Slack click into an approval decision, or a refusal the clicker reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog

from firewall.approvals.models import HoldRecord
from firewall.approvals.service import ApprovalService
from firewall.errors import ApprovalError, FirewallError

from .identity import SlackIdentities

log = structlog.get_logger("firewall.slack")

Action = Literal["approve", "deny"]
DecisionHook = Callable[[str, Action, HoldRecord | None, str | None], None]
"""Called after every decision attempt: (channel, action, decided record, refusal code)."""

PAST = {"approve": "approved", "deny": "denied"}
UNAVAILABLE = (
    "The approval service could not record your decision, so nothing was decided. "
    "Please try again in a moment."
)


@dataclass(frozen=True)
class Outcome:
    """What became of one click: the decided hold, or why it was refused."""

    record: HoldRecord | None = None
    refusal: str | None = None
    code: str | None = None


class SlackDecisions:
    """Applies clicks as the Slack user who made them (from the verified request only)."""

    def __init__(
        self,
        approvals: ApprovalService,
        identities: SlackIdentities,
        on_decision: DecisionHook | None = None,
    ) -> None:
        self._approvals = approvals
        self._identities = identities
        self._on_decision = on_decision

    def approve(self, hold_id: str, slack_user_id: str) -> Outcome:
        """Count the approval of ``slack_user_id``'s approver id."""
        approver = self._identities.approver_of(slack_user_id)
        return self._apply("approve", hold_id, lambda: self._approvals.approve(hold_id, approver))

    def deny(self, hold_id: str, slack_user_id: str, reason: str | None) -> Outcome:
        """Deny the hold as ``slack_user_id``'s approver id, with an optional reason."""
        approver = self._identities.approver_of(slack_user_id)
        reason = (reason or "").strip() or None
        return self._apply("deny", hold_id, lambda: self._approvals.deny(hold_id, approver, reason))

    def _apply(self, action: Action, hold_id: str, decide: Callable[[], HoldRecord]) -> Outcome:
        try:
            record = decide()
        except ApprovalError as exc:  # already audited by the approval service
            outcome = Outcome(refusal=f"Not {PAST[action]}: {exc}", code=exc.code)
        except FirewallError as exc:
            log.exception("slack_decision_failed", hold_id=hold_id, error=type(exc).__name__)
            outcome = Outcome(refusal=UNAVAILABLE, code="unavailable")
        else:
            outcome = Outcome(record=record)
        if self._on_decision is not None:
            self._on_decision("slack", action, outcome.record, outcome.code)
        return outcome
