"""What the gate writes to the audit log for a decision and for an outcome.

A decision record carries the call's arguments so an auditor can see what was allowed
(the amount of a refund, say). Arguments the tool spec marks personal are named in
``personal_args``: the audit log stores them only as keyed commitments (see
:mod:`firewall.audit.vault`). For a tool the firewall does not know, every argument is
treated as personal, since nothing says otherwise. Other arguments are recorded as the
policy saw them: personal data detected in them (an email typed into a note) is a
commitment, a token stays a token. The decision record also keeps the policy's input and
outcome, so ``firewall policy replay`` can re-evaluate it against a candidate policy.
"""

from __future__ import annotations

import re

from firewall.approvals.models import HoldRecord
from firewall.audit.events import AuditEvent
from firewall.canonical import canonical_json, sha256_hex
from firewall.stages.base import CallContext
from firewall.types import Allow, Deny, Hold, ToolCall, new_id

MAX_AUDITED_ARGS_BYTES = 16 * 1024
MAX_AUDITED_TOOL_NAME = 256
MAX_AUDITED_POLICY_INPUT_BYTES = 64 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


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
    if ctx.settled_hold is not None:
        details |= ctx.settled_hold
    _capture_policy_input(ctx, details)
    audited_args = _audited_args(ctx, details)
    return AuditEvent(
        event="decision",
        call_id=ctx.call.call_id,
        decision_id=new_id("dec"),
        principal=ctx.call.principal.policy_view(),
        tool=_audited_tool_name(ctx.call.tool, details),
        outcome=decision.kind,
        code=decision.code.value if isinstance(decision, Deny) else None,
        reasons=_audited_reasons(decision),
        policy_revision=revision,
        args=audited_args,
        personal_args=_personal_args(ctx) if audited_args is not None else (),
        details=details,
    )


def settled_hold_details(record: HoldRecord) -> dict[str, object]:
    """Who settled a hold, and how, for the decision record written before the call runs.

    The approvers' own ``hold_decided`` record is written by the approving process; this
    copy in the gate's durable record means no approved call runs without its approvers
    on the chain, even if that other append was lost.
    """
    return {
        "hold_id": record.hold_id,
        "hold_state": record.state.value,
        "decided_by": list(record.decided_by),
        "decided_at": record.decided_at.isoformat() if record.decided_at else None,
    }


def outcome_event(
    call: ToolCall, outcome: str, error: str | None, *, hold_id: str | None = None
) -> AuditEvent:
    """The audit record of what happened when the tool ran: ``ok`` or ``error``.

    ``hold_id`` names the approval the call ran under: the model's call id names the call
    only within its tenant and session, so readers match an outcome to a hold by this.
    """
    details: dict[str, object] = {"error": error} if error else {}
    if hold_id is not None:
        details["hold_id"] = hold_id
    return AuditEvent(
        event="outcome",
        call_id=call.call_id,
        principal=call.principal.policy_view(),
        tool=call.tool,
        outcome=outcome,
        details=details,
    )


def _audited_tool_name(name: str, details: dict[str, object]) -> str:
    """The tool name as asked for, kept to what a record can hold.

    A name too long to be any tool is kept as a prefix; lone surrogates (no UTF-8 form,
    so no canonical JSON) are kept escaped (``\\ud800``). Either way its full
    length and digest go in ``details``, so the record still identifies exactly what was
    sent (a megabyte "name" is an attack to record, not to store).
    """
    kept = name[:MAX_AUDITED_TOOL_NAME]
    text = recordable_text(kept)
    if text == name:
        return name
    sent = {"length": len(name), "sha256": sha256_hex(name.encode("utf-8", "surrogatepass"))}
    if text != kept:
        details["tool_name_escaped"] = sent
    if kept != name:
        details["tool_name_cut"] = sent
    return text


def recordable_text(text: str) -> str:
    """``text`` with its lone surrogates escaped (``\\udXXX``): text canonical JSON can encode."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _audited_args(ctx: CallContext, details: dict[str, object]) -> dict[str, object] | None:
    """The call's arguments, if they were valid JSON and not oversized."""
    if not ctx.args_json:
        return None
    if len(ctx.args_json) > MAX_AUDITED_ARGS_BYTES:
        details["args_omitted"] = f"{len(ctx.args_json)} bytes"
        return None
    if ctx.policy_args is None:
        return dict(ctx.call.args)
    personal = set(_personal_args(ctx))
    return {
        name: value if name in personal else ctx.policy_args.get(name, value)
        for name, value in ctx.call.args.items()
    }


def _audited_reasons(decision: Allow | Deny | Hold) -> tuple[str, ...]:
    """The reasons as given; one quoting the model's text may hold a lone surrogate."""
    if isinstance(decision, Allow):
        return ()
    return tuple(recordable_text(reason) for reason in decision.reasons)


def _capture_policy_input(ctx: CallContext, details: dict[str, object]) -> None:
    """What the policy saw and said, for ``firewall policy replay`` (no raw personal data)."""
    if ctx.policy_capture is None or ctx.policy is None:
        return
    size = len(canonical_json(ctx.policy_capture))
    if size > MAX_AUDITED_POLICY_INPUT_BYTES:
        details["policy_input_omitted"] = f"{size} bytes"
        return
    details["policy_input"] = ctx.policy_capture
    details["policy_outcome"] = ctx.policy.outcome


def _personal_args(ctx: CallContext) -> tuple[str, ...]:
    if ctx.spec is None:
        return tuple(sorted(ctx.call.args))
    return tuple(name for name in ctx.spec.personal_args if name in ctx.call.args)
