"""The approval card (Block Kit) of a hold, in each state of its life.

The buttons carry only the opaque hold id; everything else is read from the store when
a click arrives. Arguments are masked (see :mod:`firewall.approvals.masking`) before they are shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from firewall.approvals.masking import mask_args, mask_text
from firewall.approvals.models import HoldRecord, HoldState

from .identity import SlackIdentities

APPROVE_ACTION = "firewall_approve"
DENY_ACTION = "firewall_deny"
DENY_MODAL = "firewall_deny_modal"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
MAX_ARGS_CHARS = 2500

Block = dict[str, Any]


@dataclass(frozen=True)
class CardContext:
    """What a card needs besides the hold: who is who, groups, personal args per tool."""

    identities: SlackIdentities
    groups: Mapping[str, Collection[str]]
    personal_args: Callable[[str], Collection[str]]


def slack_date(moment: datetime) -> str:
    """A date Slack shows in the reader's time zone (UTC ISO text as the fallback)."""
    fallback = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time_secs}}|{fallback}>"


def card(record: HoldRecord, ctx: CardContext) -> tuple[str, list[Block]]:
    """The fallback text and blocks of ``record``'s card, as its state requires."""
    blocks = [_header(record), *_summary(record, ctx)]
    if record.state is not HoldState.PENDING:
        blocks.append(_verdict(record, ctx))
    elif record.approvals:
        blocks += [_progress(record, ctx), _buttons(record)]
    else:
        blocks.append(_buttons(record))
    blocks.append(_footer(record))
    return _fallback(record), blocks


def outcome_text(record: HoldRecord, outcome: str, error: str | None, at: str) -> str:
    """The threaded reply once the approved call ran."""
    if outcome == "ok":
        return f":white_check_mark: `{record.tool}` ran at {at} (outcome: ok)."
    return f":warning: `{record.tool}` ran at {at} and failed ({error or 'error'})."


def deny_modal(hold_id: str, tool: str) -> dict[str, Any]:
    """The modal that asks for an optional reason before denying."""
    return {
        "type": "modal",
        "callback_id": DENY_MODAL,
        "private_metadata": hold_id,
        "title": {"type": "plain_text", "text": "Deny held call"},
        "submit": {"type": "plain_text", "text": "Deny"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _text_section(f"Deny `{tool}`? It will not run."),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Reason (optional)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }


def _fallback(record: HoldRecord) -> str:
    amount = f" {record.amount}" if record.amount is not None else ""
    tenant = record.principal.get("tenant", "?")
    return f"Approval {record.state.value}: {record.tool}{amount} for {tenant} ({record.hold_id})"


def _header(record: HoldRecord) -> Block:
    titles = {
        HoldState.PENDING: "Approval needed",
        HoldState.APPROVED: "Approved",
        HoldState.EXECUTED: "Approved",
        HoldState.DENIED: "Denied",
        HoldState.EXPIRED: "Expired",
    }
    text = f"{titles[record.state]}: {record.tool}"[:150]
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _summary(record: HoldRecord, ctx: CardContext) -> list[Block]:
    principal = record.principal
    customer = principal.get("on_behalf_of")
    fields = {
        "Tool": f"`{record.tool}`",
        "Amount": "" if record.amount is None else str(record.amount),
        "Agent": str(principal.get("agent_id", "")),
        "Tenant": str(principal.get("tenant", "")),
        "Customer": mask_text(str(customer)) if customer else "",
        "Requested by": ctx.identities.mention(str(principal.get("requested_by") or "")),
        "Who may approve": _approvers(record, ctx),
        "Expires": slack_date(record.expires_at),
    }
    shown = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields.items() if v]
    reasons = "\n".join(f"\u2022 {mask_text(reason)}" for reason in record.reasons)
    masked = mask_args(record.args, ctx.personal_args(record.tool))
    args = json.dumps(masked, indent=2, ensure_ascii=False)
    if len(args) > MAX_ARGS_CHARS:
        args = args[:MAX_ARGS_CHARS] + "\n\u2026 (truncated)"
    return [
        {"type": "section", "fields": shown},
        _text_section(f"*Why it was held*\n{reasons or '(no reason given)'}"),
        _text_section(f"*Arguments*\n```{args}```"),
    ]


def _approvers(record: HoldRecord, ctx: CardContext) -> str:
    group = record.approvers
    if group is None or group not in ctx.groups:
        return f"nobody (group {group or 'none'} is not configured)"
    members = ctx.identities.mentions(sorted(ctx.groups[group]))
    need = f"{record.quorum} distinct approvers of " if record.quorum > 1 else ""
    return f"{need}*{group}*: {members}"


def _progress(record: HoldRecord, ctx: CardContext) -> Block:
    count = f"{len(record.approvals)} of {record.quorum}"
    return _text_section(f"Approvals so far ({count}): {ctx.identities.mentions(record.approvals)}")


def _buttons(record: HoldRecord) -> Block:
    amount = f" of {record.amount}" if record.amount is not None else ""
    confirm = {
        "title": {"type": "plain_text", "text": "Approve this call?"},
        "text": {
            "type": "mrkdwn",
            "text": f"`{record.tool}`{amount} will run once, exactly as shown on the card.",
        },
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    return {
        "type": "actions",
        "block_id": "firewall_decision",
        "elements": [
            _button("Approve", APPROVE_ACTION, record.hold_id, "primary", confirm),
            _button("Deny", DENY_ACTION, record.hold_id, "danger", None),
        ],
    }


def _button(
    label: str, action_id: str, hold_id: str, style: str, confirm: dict[str, Any] | None
) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": hold_id,
        "style": style,
    }
    if confirm:
        button["confirm"] = confirm
    return button


def _verdict(record: HoldRecord, ctx: CardContext) -> Block:
    when = slack_date(record.decided_at) if record.decided_at else "?"
    who = ctx.identities.mentions(record.decided_by)
    if record.state is HoldState.APPROVED:
        text = f":white_check_mark: *Approved* by {who} at {when}. The call may run once."
    elif record.state is HoldState.EXECUTED:
        text = f":white_check_mark: *Approved* by {who} at {when}. The agent ran the call."
    elif record.state is HoldState.DENIED:
        reason = f": {mask_text(record.decision_reason)}" if record.decision_reason else "."
        text = f":no_entry: *Denied* by {who} at {when}{reason}"
    elif record.decided_by:
        text = f":hourglass: *Expired*: approved by {who} but not used in time. Nothing ran."
    else:
        text = f":hourglass: *Expired* at {when} without a decision. The call will not run."
    return _text_section(text)


def _footer(record: HoldRecord) -> Block:
    text = f"Hold `{record.hold_id}` \u00b7 binds to `{record.digest[:19]}\u2026`"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _text_section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
