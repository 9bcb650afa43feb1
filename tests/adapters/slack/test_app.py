"""Clicks in Slack, end to end: signed requests to the real service, a mock Slack Web API."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from firewall.adapters.slack import APPROVE_ACTION, DENY_ACTION

from firewall.approvals import HoldState
from tests.adapters.rig import Rig
from tests.adapters.slack.mock_slack import SlackCall
from tests.adapters.slack.payloads import SIGNING_SECRET, block_action, view_submission
from tests.approvals.helpers import chain_records

STALE_S = 5 * 60 + 30


def _updates(rig: Rig, hold_id: str) -> list[SlackCall]:
    return [c for c in rig.slack.calls_to("chat.update") if hold_id in str(c.params["blocks"])]


def _last_card_text(rig: Rig, hold_id: str) -> str:
    updates = _updates(rig, hold_id)
    return json.dumps(updates[-1].params["blocks"]) if updates else ""


def _ephemerals(rig: Rig, user: str) -> list[SlackCall]:
    return [c for c in rig.slack.calls_to("chat.postEphemeral") if c.params["user"] == user]


def _audit_events(db_url: str, kind: str) -> list[tuple[str | None, dict[str, object]]]:
    return [(r.outcome or r.code, r.details) for r in chain_records(db_url) if r.event == kind]


def test_approve_click_approves_and_updates_the_card_in_place(rig: Rig) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    response = rig.click("U0ALICE", APPROVE_ACTION, record.hold_id, ts)
    assert response.status_code == 200
    decided = rig.agent.get(record.hold_id)
    assert decided is not None
    assert (decided.state, decided.approvals) == (HoldState.APPROVED, ("alice",))
    rig.slack.wait_until(lambda: "Approved" in _last_card_text(rig, record.hold_id), "update")
    [update] = _updates(rig, record.hold_id)
    assert update.params["ts"] == ts
    assert "<@U0ALICE>" in _last_card_text(rig, record.hold_id)
    assert "firewall_approve" not in _last_card_text(rig, record.hold_id)


def test_deny_button_opens_a_modal_that_carries_only_the_hold_id(rig: Rig) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    assert rig.click("U0CAROL", DENY_ACTION, record.hold_id, ts).status_code == 200
    [opened] = rig.slack.wait_for("views.open")
    assert opened.params["trigger_id"] == "1234.5678.U0CAROL"
    assert opened.params["view"]["private_metadata"] == record.hold_id
    pending = rig.agent.get(record.hold_id)
    assert pending is not None
    assert pending.state is HoldState.PENDING


def test_deny_with_a_reason_denies_and_shows_it_on_the_card(rig: Rig) -> None:
    _, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    response = rig.post_signed(view_submission("U0CAROL", record.hold_id, "customer not eligible"))
    assert response.status_code == 200
    denied = rig.agent.get(record.hold_id)
    assert denied is not None
    assert (denied.state, denied.decided_by) == (HoldState.DENIED, ("carol",))
    assert denied.decision_reason == "customer not eligible"
    rig.slack.wait_until(lambda: "Denied" in _last_card_text(rig, record.hold_id), "denied card")
    assert "customer not eligible" in _last_card_text(rig, record.hold_id)


def test_deny_without_a_reason_is_allowed(rig: Rig) -> None:
    _, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    assert rig.post_signed(view_submission("U0DAVE", record.hold_id, None)).status_code == 200
    denied = rig.agent.get(record.hold_id)
    assert denied is not None
    assert (denied.state, denied.decision_reason) == (HoldState.DENIED, None)


def test_forged_signature_is_refused_with_401_and_decides_nothing(rig: Rig) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    payload = block_action("U0ALICE", APPROVE_ACTION, record.hold_id, ts)
    response = rig.post_signed(payload, secret="not-the-signing-secret")
    assert response.status_code == 401
    pending = rig.agent.get(record.hold_id)
    assert pending is not None
    assert pending.state is HoldState.PENDING


def test_stale_timestamp_is_refused_with_401_even_when_correctly_signed(rig: Rig) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    payload = block_action("U0ALICE", APPROVE_ACTION, record.hold_id, ts)
    old = int(time.time()) - STALE_S
    response = rig.post_signed(payload, secret=SIGNING_SECRET, timestamp=old)
    assert response.status_code == 401
    pending = rig.agent.get(record.hold_id)
    assert pending is not None
    assert pending.state is HoldState.PENDING


def test_unsigned_request_is_refused_with_401(rig: Rig) -> None:
    response = rig.http.post("/slack/events", content="payload=%7B%7D")
    assert response.status_code == 401


def test_double_click_decides_once_and_tells_the_second_click(rig: Rig, db_url: str) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    with ThreadPoolExecutor(2) as pool:
        clicks = [pool.submit(rig.click, "U0ALICE", APPROVE_ACTION, record.hold_id, ts)]
        clicks.append(pool.submit(rig.click, "U0ALICE", APPROVE_ACTION, record.hold_id, ts))
        assert [click.result().status_code for click in clicks] == [200, 200]
    decided = rig.agent.get(record.hold_id)
    assert decided is not None
    assert (decided.state, decided.approvals, decided.version) == (
        HoldState.APPROVED,
        ("alice",),
        1,
    )
    assert [o for o, _ in _audit_events(db_url, "hold_decided")] == ["approved"]
    [refused] = _audit_events(db_url, "approval_refused")
    assert refused[0] == "not_pending"
    [told] = rig.slack.wait_until(lambda: _ephemerals(rig, "U0ALICE"), "an ephemeral") and (
        _ephemerals(rig, "U0ALICE")
    )
    assert "already approved" in told.params["text"]


def test_requester_cannot_approve_their_own_call(rig: Rig, db_url: str) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    assert rig.click("U0BOB", APPROVE_ACTION, record.hold_id, ts).status_code == 200
    pending = rig.agent.get(record.hold_id)
    assert pending is not None
    assert (pending.state, pending.approvals) == (HoldState.PENDING, ())
    [(code, details)] = _audit_events(db_url, "approval_refused")
    assert (code, details["approver"]) == ("self_approval", "bob")
    rig.slack.wait_until(lambda: _ephemerals(rig, "U0BOB"), "an ephemeral to bob")
    [told] = _ephemerals(rig, "U0BOB")
    assert "requested the call" in told.params["text"]
    assert told.params["channel"] == "C0APPROVALS"


def test_approver_outside_the_group_is_refused_and_told(rig: Rig, db_url: str) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    assert rig.click("U0ERIN", APPROVE_ACTION, record.hold_id, ts).status_code == 200
    pending = rig.agent.get(record.hold_id)
    assert pending is not None
    assert pending.state is HoldState.PENDING
    [(code, details)] = _audit_events(db_url, "approval_refused")
    assert (code, details["approver"]) == ("not_an_approver", "erin")
    rig.slack.wait_until(lambda: _ephemerals(rig, "U0ERIN"), "an ephemeral to erin")
    assert "not in approver group 'supervisors'" in _ephemerals(rig, "U0ERIN")[0].params["text"]


def test_unknown_slack_user_is_not_an_approver(rig: Rig, db_url: str) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    rig.click("U0STRANGER", APPROVE_ACTION, record.hold_id, ts)
    [(code, details)] = _audit_events(db_url, "approval_refused")
    assert (code, details["approver"]) == ("not_an_approver", "U0STRANGER")


def test_quorum_of_two_needs_two_distinct_approvers(rig: Rig, db_url: str) -> None:
    _, record = rig.open_hold(quorum=2, amount=6000, order_id="o-9")
    ts = rig.card_ts(record.hold_id)
    rig.click("U0ALICE", APPROVE_ACTION, record.hold_id, ts)
    first = rig.agent.get(record.hold_id)
    assert first is not None
    assert (first.state, first.approvals) == (HoldState.PENDING, ("alice",))
    rig.slack.wait_until(lambda: "1 of 2" in _last_card_text(rig, record.hold_id), "progress")
    rig.click("U0ALICE", APPROVE_ACTION, record.hold_id, ts)
    [(code, _)] = _audit_events(db_url, "approval_refused")
    assert code == "already_approved"
    rig.click("U0CAROL", APPROVE_ACTION, record.hold_id, ts)
    final = rig.agent.get(record.hold_id)
    assert final is not None
    assert (final.state, final.approvals) == (HoldState.APPROVED, ("alice", "carol"))
    outcomes = [o for o, _ in _audit_events(db_url, "hold_decided")]
    assert outcomes == ["approval_recorded", "approved"]
    rig.slack.wait_until(lambda: "Approved" in _last_card_text(rig, record.hold_id), "approved")
    assert "<@U0CAROL>" in _last_card_text(rig, record.hold_id)
