"""Personal data never reaches an approver or the model through the service in clear."""

from __future__ import annotations

import json
import threading

from firewall.examples.support_agent.backends import Backends

from firewall.audit.store import SqlAuditLog
from firewall.factory import build_firewall
from firewall.types import Deny, DenyCode, ToolCall
from tests.adapters.rig import AGENT, TOKENS, Rig
from tests.adapters.slack.payloads import view_submission

CARD = 4111111111111111
EMAIL = "jane.doe@example.com"
REASON = f"{EMAIL} disputed it; card 4111 1111 1111 1111 is stolen"
LEAKS = ("jane.doe", "example.com", "4111111111111111", "4111 1111 1111")


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def _leaks(text: str) -> list[str]:
    return [leak for leak in LEAKS if leak in text]


def _audited_reasons(db_url: str) -> list[object]:
    with SqlAuditLog(db_url) as log:
        return [r.details.get("reason") for r in log.records() if r.event == "hold_decided"]


def test_rest_masks_numbers_keys_and_reasons(rig: Rig) -> None:
    _, record = rig.open_hold(
        "issue_refund", order_id="o-7", amount=50, reason={EMAIL: "requested"}, card=CARD
    )
    rig.agent.deny(record.hold_id, "carol", REASON)
    response = rig.http.get(f"/api/holds/{record.hold_id}", headers=_auth("alice"))
    assert response.status_code == 200
    assert _leaks(response.text) == []
    hold = response.json()["hold"]
    assert hold["args"]["card"] == "\u2022\u2022\u2022 1111"
    assert hold["decision_reason"]


def test_hold_reasons_are_masked_for_approvers_in_rest_and_slack(rig: Rig) -> None:
    _, record = rig.open_hold(reasons=(f"refund to {EMAIL} needs a human",))
    rig.card_ts(record.hold_id)
    view = rig.http.get("/api/holds", headers=_auth("alice"))
    assert "needs a human" in view.text
    assert _leaks(view.text) == []
    assert _leaks(json.dumps([c.params for c in rig.slack.calls], ensure_ascii=False)) == []


def test_deny_reason_over_rest_is_masked_in_the_answer_store_and_audit(
    rig: Rig, db_url: str
) -> None:
    _, record = rig.open_hold()
    response = rig.http.post(
        f"/api/holds/{record.hold_id}/deny", headers=_auth("carol"), json={"reason": REASON}
    )
    assert response.status_code == 200
    assert _leaks(response.text) == []
    stored = rig.agent.get(record.hold_id)
    assert stored is not None
    assert stored.decision_reason is not None  # what the agent's model is told
    assert _leaks(stored.decision_reason) == []
    assert "disputed it" in stored.decision_reason
    assert _leaks(json.dumps(_audited_reasons(db_url))) == []


def test_deny_reason_typed_in_slack_is_masked_on_the_card_and_in_the_store(
    rig: Rig, db_url: str
) -> None:
    _, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    assert rig.post_signed(view_submission("U0CAROL", record.hold_id, REASON)).status_code == 200
    rig.slack.wait_until(
        lambda: any("Denied" in json.dumps(c.params) for c in rig.slack.calls_to("chat.update")),
        "the denied card",
    )
    sent = json.dumps([c.params for c in rig.slack.calls], ensure_ascii=False)
    assert "disputed it" in sent
    assert _leaks(sent) == []
    stored = rig.agent.get(record.hold_id)
    assert stored is not None
    assert _leaks(stored.decision_reason or "") == []
    assert _leaks(json.dumps(_audited_reasons(db_url))) == []


def test_the_waiting_agents_model_reads_the_deny_reason_masked(rig: Rig) -> None:
    firewall = build_firewall(rig.runtime.config.firewall, facts=Backends.seeded().facts())
    call = ToolCall(
        tool="issue_refund",
        args={"order_id": "o-2", "amount": 450.0, "reason": "late delivery"},
        principal=AGENT,
        session_id="s-mask",
    )
    results: list[object] = []
    agent = threading.Thread(
        target=lambda: results.append(firewall.run(call, lambda: "ran")), daemon=True
    )
    agent.start()
    try:
        rig.slack.wait_until(lambda: rig.agent.for_call(call.key), "the hold")
        hold = rig.agent.for_call(call.key)
        assert hold is not None
        denied = rig.http.post(
            f"/api/holds/{hold.hold_id}/deny", headers=_auth("carol"), json={"reason": REASON}
        )
        assert denied.status_code == 200
        agent.join(60)
    finally:
        firewall.close()
    [result] = results
    assert isinstance(result, Deny)
    assert result.code is DenyCode.APPROVAL_DENIED
    told = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
    assert "disputed it" in told
    assert _leaks(told) == []
