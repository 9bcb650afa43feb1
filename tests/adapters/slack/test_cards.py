"""The approval card: what it shows in each state, what it masks, and what it never carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from firewall.adapters.service import ServiceRuntime
from firewall.adapters.slack import APPROVE_ACTION, DENY_ACTION, CardContext, SlackIdentities, card

from firewall.approvals import HoldRecord
from firewall.types import Hold, Principal, ToolCall
from tests.adapters.rig import GROUPS, USERS, Rig
from tests.adapters.slack.mock_slack import BOT_TOKEN
from tests.adapters.slack.payloads import SIGNING_SECRET

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PERSONAL = {"charge_card": ("customer_id",)}
CONTEXT = CardContext(SlackIdentities(USERS), GROUPS, lambda tool: PERSONAL.get(tool, ()))


def _record(tool: str = "charge_card", quorum: int = 1, **args: Any) -> HoldRecord:
    principal = Principal(
        agent_id="support-bot",
        tenant="acme",
        on_behalf_of="customer:c-100",
        requested_by="bob",
    )
    call = ToolCall(tool=tool, args=args, principal=principal, session_id="s-1")
    hold = Hold(
        call_id=call.call_id,
        hold_id="hold_0123abcd",
        approvers="supervisors",
        quorum=quorum,
        expires_at=NOW + timedelta(minutes=15),
        reasons=("card charges always need a supervisor's approval",),
    )
    return HoldRecord.from_call(call, hold, NOW, money_arg="amount")


def _charge() -> HoldRecord:
    return _record(
        customer_id="c-100",
        amount=900,
        description="refund ada.lovelace@example.com, card 4111 1111 1111 1111",
        api_token="sk-live-abcdef",
    )


def _text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_pending_card_shows_what_an_approver_needs() -> None:
    fallback, blocks = card(_charge(), CONTEXT)
    text = _text(blocks)
    for expected in ("charge_card", "900", "support-bot", "acme", "customer:c-100"):
        assert expected in text
    assert "card charges always need a supervisor" in text
    assert "*supervisors*" in text
    assert all(f"<@{USERS[name]}>" in text for name in ("alice", "carol", "dave"))
    assert f"<!date^{int((NOW + timedelta(minutes=15)).timestamp())}^" in text
    assert "Approval pending: charge_card 900 for acme" in fallback


def test_card_masks_personal_data_and_drops_secrets() -> None:
    _, blocks = card(_charge(), CONTEXT)
    text = _text(blocks)
    assert "c-\u2022\u2022\u2022" in text  # the personal customer_id arg, masked
    assert "ada.lovelace" not in text
    assert "example.com" not in text
    assert "4111 1111 1111 1111" not in text
    assert "\u2022\u2022\u2022 1111" in text
    assert "sk-live-abcdef" not in text
    assert "[redacted]" in text


def test_buttons_carry_only_the_opaque_hold_id_and_approve_asks_to_confirm() -> None:
    _, blocks = card(_charge(), CONTEXT)
    approve, deny = _buttons(blocks)
    assert (approve["action_id"], approve["value"]) == (APPROVE_ACTION, "hold_0123abcd")
    assert (deny["action_id"], deny["value"]) == (DENY_ACTION, "hold_0123abcd")
    assert approve["confirm"]["confirm"]["text"] == "Approve"
    assert "confirm" not in deny


def test_quorum_card_says_how_many_approvers_and_who_approved_so_far() -> None:
    record = _record("issue_refund", quorum=2, amount=6000)
    assert "2 distinct approvers of *supervisors*" in _text(card(record, CONTEXT)[1])
    partly = record.with_approval("alice", NOW)
    text = _text(card(partly, CONTEXT)[1])
    assert "Approvals so far (1 of 2): <@U0ALICE>" in text
    assert len(_buttons(card(partly, CONTEXT)[1])) == 2


def test_decided_cards_have_no_buttons_and_say_who_decided_and_when() -> None:
    approved = _charge().with_approval("carol", NOW + timedelta(minutes=1))
    denied = _charge().with_denial("dave", "not eligible", NOW + timedelta(minutes=2))
    for record, verdict in (
        (approved, "*Approved* by <@U0CAROL>"),
        (denied, "*Denied* by <@U0DAVE>"),
    ):
        _, blocks = card(record, CONTEXT)
        assert _buttons(blocks) == []
        assert verdict in _text(blocks)
        assert f"<!date^{int(record.decided_at.timestamp())}^" in _text(blocks)  # type: ignore[union-attr]
    assert "not eligible" in _text(card(denied, CONTEXT)[1])


def test_expired_card_says_the_call_will_not_run() -> None:
    expired = _charge().with_expiry(NOW + timedelta(minutes=16))
    fallback, blocks = card(expired, CONTEXT)
    assert _buttons(blocks) == []
    assert "*Expired*" in _text(blocks)
    assert "will not run" in _text(blocks)
    assert fallback.startswith("Approval expired")


def test_approved_but_unused_card_says_nothing_ran() -> None:
    approved = _charge().with_approval("carol", NOW)
    unused = approved.with_expiry(NOW + timedelta(minutes=16))
    assert "approved by <@U0CAROL> but not used in time. Nothing ran." in _text(
        card(unused, CONTEXT)[1]
    )


def test_unconfigured_group_card_says_nobody_may_approve() -> None:
    context = CardContext(SlackIdentities(USERS), {}, lambda _tool: ())
    assert "nobody (group supervisors is not configured)" in _text(card(_charge(), context)[1])


def test_service_posts_the_card_without_any_secret(rig: Rig) -> None:
    _, record = rig.open_hold("charge_card", customer_id="c-100", amount=99, password="hunter2")
    rig.card_ts(record.hold_id)
    [post] = rig.posts_for(record.hold_id)
    sent = json.dumps([call.params for call in rig.slack.calls], ensure_ascii=False)
    assert post.params["channel"] == "C0APPROVALS"
    assert "hunter2" not in sent
    assert BOT_TOKEN not in sent
    assert SIGNING_SECRET not in sent
    assert "c-\u2022\u2022\u2022" in json.dumps(post.params["blocks"], ensure_ascii=False)
    assert {call.token for call in rig.slack.calls} == {BOT_TOKEN}


def test_a_restarted_service_does_not_post_a_hold_twice(rig: Rig) -> None:
    _, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    restarted = ServiceRuntime(rig.runtime.config)
    try:
        restarted.worker.tick()
    finally:
        restarted.close()
    assert len(rig.posts_for(record.hold_id)) == 1
