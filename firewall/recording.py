"""What the gate writes to the audit log for a decision and for an outcome."""

from __future__ import annotations

from firewall.audit.events import AuditEvent
from firewall.canonical import sha256_hex
from firewall.stages.base import CallContext
from firewall.types import Allow, Deny, Hold, ToolCall


def decision_event(ctx: CallContext, decision: Allow | Deny | Hold, revision: str) -> AuditEvent:
    """The audit record of one decision (written before the tool may run)."""
    details: dict[str, object] = {"stage": ctx.stage}
    if isinstance(decision, Hold):
        details |= {
            "hold_id": decision.hold_id,
            "approvers": decision.approvers,
            "quorum": decision.quorum,
            "expires_at": decision.expires_at.isoformat(),
        }
    if isinstance(decision, Deny) and decision.retry_after_s is not None:
        details["retry_after_s"] = round(decision.retry_after_s, 3)
    return AuditEvent(
        event="decision",
        call_id=ctx.call.call_id,
        principal=ctx.call.principal.policy_view(),
        tool=ctx.call.tool,
        outcome=decision.kind,
        code=decision.code.value if isinstance(decision, Deny) else None,
        reasons=decision.reasons if not isinstance(decision, Allow) else (),
        policy_revision=revision,
        args_digest="sha256:" + sha256_hex(ctx.args_json) if ctx.args_json else None,
        details=details,
    )


def outcome_event(call: ToolCall, outcome: str, error: str | None) -> AuditEvent:
    """The audit record of what happened when the tool ran: ``ok`` or ``error``."""
    return AuditEvent(
        event="outcome",
        call_id=call.call_id,
        principal=call.principal.policy_view(),
        tool=call.tool,
        outcome=outcome,
        details={"error": error} if error else {},
    )
