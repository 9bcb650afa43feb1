"""Cards in step with the store: outcome replies, Slack outages, decisions made elsewhere."""

from __future__ import annotations

import json

from firewall.adapters.slack import APPROVE_ACTION, DENY_ACTION

from firewall.approvals import HoldState
from firewall.recording import outcome_event
from tests.adapters.rig import Rig
from tests.adapters.slack.mock_slack import SlackCall
from tests.adapters.slack.payloads import view_submission


def _replies(rig: Rig) -> list[SlackCall]:
    return [c for c in rig.slack.calls_to("chat.postMessage") if "thread_ts" in c.params]


def _updates_saying(rig: Rig, hold_id: str, text: str) -> list[SlackCall]:
    return [
        call
        for call in rig.slack.calls_to("chat.update")
        if hold_id in json.dumps(call.params) and text in json.dumps(call.params)
    ]


def test_outcome_is_replied_in_the_cards_thread_once_the_tool_ran(rig: Rig) -> None:
    call, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    rig.agent.approve(record.hold_id, "alice")
    rig.agent.consume(record.hold_id, call.binding_digest())
    rig.audit.append(outcome_event(call, "error", "TimeoutError", hold_id=record.hold_id))
    rig.slack.wait_until(lambda: _replies(rig), "the outcome reply")
    [reply] = _replies(rig)
    assert reply.params["thread_ts"] == ts
    assert "`issue_refund` ran at" in reply.params["text"]
    assert "failed (TimeoutError)" in reply.params["text"]
    rig.runtime.worker.tick()
    assert len(_replies(rig)) == 1
    cards = rig.runtime.slack.cards if rig.runtime.slack else None
    assert cards is not None
    rig.slack.wait_until(lambda: (card := cards.get(record.hold_id)) and card.done, "done")
    rig.runtime.worker.tick()
    assert len(_replies(rig)) == 1


def test_no_outcome_reply_while_the_tool_is_still_running(rig: Rig) -> None:
    call, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    rig.agent.approve(record.hold_id, "alice")
    rig.agent.consume(record.hold_id, call.binding_digest())
    rig.slack.wait_until(
        lambda: _updates_saying(rig, record.hold_id, "The agent ran the call"), "used"
    )
    rig.runtime.worker.tick()
    assert _replies(rig) == []


def test_decision_made_elsewhere_updates_the_card(rig: Rig) -> None:
    _, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    rig.agent.deny(record.hold_id, "carol", "decided on the CLI")
    rig.slack.wait_until(lambda: _updates_saying(rig, record.hold_id, "decided on the CLI"))


def test_card_is_posted_after_a_slack_outage(rig: Rig) -> None:
    rig.slack.failing.add("chat.postMessage")
    _, record = rig.open_hold()
    rig.slack.wait_for("chat.postMessage")
    assert rig.runtime.slack is not None
    claimed = rig.runtime.slack.cards.get(record.hold_id)
    assert claimed is not None
    assert claimed.ts is None
    rig.slack.failing.clear()
    stale = claimed.claimed_at.replace(year=claimed.claimed_at.year - 1)
    assert rig.runtime.slack.cards.reclaim(claimed, stale)  # as if the claim were old
    rig.card_ts(record.hold_id)
    assert len(rig.posts_for(record.hold_id)) == 2  # the failed attempt, then the card


def test_card_update_is_retried_after_a_slack_outage(rig: Rig) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    rig.slack.failing.add("chat.update")
    rig.click("U0ALICE", APPROVE_ACTION, record.hold_id, ts)
    rig.slack.wait_for("chat.update")
    rig.slack.failing.clear()
    rig.slack.wait_until(
        lambda: len(_updates_saying(rig, record.hold_id, "*Approved*")) >= 2, "a retried update"
    )
    assert rig.runtime.slack is not None
    card = rig.runtime.slack.cards.get(record.hold_id)
    assert card is not None
    assert card.shown_version == 1


def test_deny_submitted_by_a_non_approver_is_refused_and_told(rig: Rig) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    rig.click("U0ERIN", DENY_ACTION, record.hold_id, ts)
    assert rig.post_signed(view_submission("U0ERIN", record.hold_id, "nope")).status_code == 200
    pending = rig.agent.get(record.hold_id)
    assert pending is not None
    assert pending.state is HoldState.PENDING
    rig.slack.wait_until(lambda: rig.slack.calls_to("chat.postEphemeral"), "an ephemeral")
    [told] = rig.slack.calls_to("chat.postEphemeral")
    assert (told.params["user"], told.params["channel"]) == ("U0ERIN", "C0APPROVALS")
    assert told.params["text"].startswith("Not denied:")
