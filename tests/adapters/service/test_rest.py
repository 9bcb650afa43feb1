"""The REST API for approvers outside Slack: bearer tokens, the same rules, JSON errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from firewall.approvals import HoldState
from tests.adapters.rig import TOKENS, Rig
from tests.approvals.helpers import chain_records


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def _refusals(db_url: str) -> list[tuple[str | None, object]]:
    return [
        (r.code, r.details["approver"])
        for r in chain_records(db_url)
        if r.event == "approval_refused"
    ]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {TOKENS['alice']}"}],
    ids=["none", "unknown", "not-bearer"],
)
def test_every_route_needs_a_valid_bearer_token(rig: Rig, headers: dict[str, str]) -> None:
    _, record = rig.open_hold()
    for method, path in [
        ("GET", "/api/holds"),
        ("GET", f"/api/holds/{record.hold_id}"),
        ("POST", f"/api/holds/{record.hold_id}/approve"),
        ("POST", f"/api/holds/{record.hold_id}/deny"),
    ]:
        response = rig.http.request(method, path, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthenticated"
    still = rig.agent.get(record.hold_id)
    assert still is not None
    assert still.state is HoldState.PENDING


def test_list_shows_pending_holds_with_personal_data_masked(rig: Rig) -> None:
    _, record = rig.open_hold("charge_card", customer_id="c-100", amount=99, card_pin="1234")
    response = rig.http.get("/api/holds", headers=_auth("carol"))
    assert response.status_code == 200
    [hold] = response.json()["holds"]
    assert hold["hold_id"] == record.hold_id
    assert hold["args"] == {
        "customer_id": "c-\u2022\u2022\u2022",
        "amount": 99,
        "card_pin": "[redacted]",
    }
    assert (hold["amount"], hold["state"], hold["approvers"]) == (99, "pending", "supervisors")
    assert hold["principal"]["requested_by"] == "bob"
    assert "session_id" not in hold  # the agent's thread id may name the customer


def test_list_filters_by_state(rig: Rig) -> None:
    _, first = rig.open_hold()
    rig.open_hold()
    rig.agent.deny(first.hold_id, "carol", "no")
    pending = rig.http.get("/api/holds", headers=_auth("alice")).json()["holds"]
    denied = rig.http.get("/api/holds?state=denied", headers=_auth("alice")).json()["holds"]
    every = rig.http.get("/api/holds?state=all", headers=_auth("alice")).json()["holds"]
    assert (len(pending), len(denied), len(every)) == (1, 1, 2)
    assert denied[0]["decision_reason"] == "no"
    bad = rig.http.get("/api/holds?state=maybe", headers=_auth("alice"))
    assert bad.status_code == 400
    assert "state must be one of" in bad.json()["error"]["message"]


def test_show_unknown_hold_is_404(rig: Rig) -> None:
    response = rig.http.get("/api/holds/hold_nope", headers=_auth("alice"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_hold"


def test_approve_as_the_tokens_owner_and_the_slack_card_follows(rig: Rig) -> None:
    _, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    response = rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=_auth("alice"))
    assert response.status_code == 200
    assert (response.json()["hold"]["state"], response.json()["hold"]["approvals"]) == (
        "approved",
        ["alice"],
    )
    rig.slack.wait_until(
        lambda: any("Approved" in json.dumps(c.params) for c in rig.slack.calls_to("chat.update")),
        "the card update",
    )


def test_approver_named_in_the_body_is_rejected_not_believed(rig: Rig) -> None:
    _, record = rig.open_hold()
    response = rig.http.post(
        f"/api/holds/{record.hold_id}/approve", headers=_auth("erin"), json={"approver": "alice"}
    )
    assert response.status_code == 422
    assert "owner of the bearer token" in response.json()["error"]["message"]
    still = rig.agent.get(record.hold_id)
    assert still is not None
    assert (still.state, still.approvals) == (HoldState.PENDING, ())


@pytest.mark.parametrize(("name", "code"), [("bob", "self_approval"), ("erin", "not_an_approver")])
def test_ineligible_approver_is_refused_with_403_and_audited(
    rig: Rig, db_url: str, name: str, code: str
) -> None:
    _, record = rig.open_hold()
    response = rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=_auth(name))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == code
    assert _refusals(db_url) == [(code, name)]


def test_second_decision_is_refused_with_409(rig: Rig) -> None:
    _, record = rig.open_hold()
    assert rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=_auth("alice")).is_success
    again = rig.http.post(f"/api/holds/{record.hold_id}/deny", headers=_auth("carol"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_pending"
    decided = rig.agent.get(record.hold_id)
    assert decided is not None
    assert decided.state is HoldState.APPROVED


def test_deny_with_a_reason(rig: Rig) -> None:
    _, record = rig.open_hold()
    response = rig.http.post(
        f"/api/holds/{record.hold_id}/deny", headers=_auth("carol"), json={"reason": "duplicate"}
    )
    assert response.status_code == 200
    assert (response.json()["hold"]["state"], response.json()["hold"]["decision_reason"]) == (
        "denied",
        "duplicate",
    )


def test_quorum_of_two_over_rest(rig: Rig) -> None:
    _, record = rig.open_hold(quorum=2)
    first = rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=_auth("alice"))
    assert first.json()["hold"]["state"] == "pending"
    repeat = rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=_auth("alice"))
    assert (repeat.status_code, repeat.json()["error"]["code"]) == (403, "already_approved")
    second = rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=_auth("carol"))
    assert second.json()["hold"]["approvals"] == ["alice", "carol"]
    assert second.json()["hold"]["state"] == "approved"


def test_a_deny_reason_naming_a_person_is_shown_but_never_stored_raw(rig: Rig, db_url: str) -> None:
    """Over REST as through the CLI: masked before it is stored, in the chain and the hold."""
    _, record = rig.open_hold()
    reason = "phoned jo.quartz@example.org: not the account holder"
    response = rig.http.post(
        f"/api/holds/{record.hold_id}/deny", headers=_auth("carol"), json={"reason": reason}
    )
    shown = response.json()["hold"]["decision_reason"]
    assert "jo.quartz" not in shown
    assert shown.endswith(": not the account holder")
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            bodies = conn.execute(text("SELECT body FROM audit_records")).scalars().all()
            holds = conn.execute(text("SELECT decision_reason FROM approval_holds")).scalars()
            stored = [*bodies, *(str(value) for value in holds)]
    finally:
        engine.dispose()
    assert [text_ for text_ in stored if "jo.quartz" in text_] == []
