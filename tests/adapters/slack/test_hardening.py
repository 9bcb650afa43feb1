"""``/slack/events`` under abuse: raw requests into the real service, a mock Slack Web API."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from firewall.adapters.slack import APPROVE_ACTION, DENY_ACTION

from firewall.approvals import HoldState
from tests.adapters.rig import Rig
from tests.adapters.slack.payloads import SIGNING_SECRET, block_action, form, view_submission
from tests.adapters.slack.raw_http import connect, head, status_of
from tests.approvals.helpers import chain_records

CAP = 256 * 1024
HUGE = 48 * 1024 * 1024
CHUNK = 64 * 1024


def _sign(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def _raw_post(rig: Rig, body: bytes, headers: dict[str, str]) -> int:
    with connect(str(rig.http.base_url)) as sock:
        sent = {**headers, "Content-Length": str(len(body)), "Connection": "close"}
        sock.sendall(head("/slack/events", sent) + body)
        return status_of(sock)


def _pending(rig: Rig, hold_id: str) -> bool:
    record = rig.agent.get(hold_id)
    return record is not None and record.state is HoldState.PENDING and not record.approvals


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def _metric(rig: Rig, name: str) -> float:
    text = rig.http.get("/metrics").text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _refusals(db_url: str) -> list[str | None]:
    """Refusals on the chain, once the writer adopted the service's journal."""
    return [r.code for r in chain_records(db_url) if r.event == "approval_refused"]


def test_oversize_body_is_refused_from_content_length_before_it_is_sent(rig: Rig) -> None:
    """The 413 arrives while the client has sent 64 KiB of a declared 48 MiB."""
    with connect(str(rig.http.base_url)) as sock:
        headers = {**_sign(b""), "Content-Length": str(HUGE)}
        sock.sendall(head("/slack/events", headers) + b"a" * CHUNK)
        assert status_of(sock) == 413


def test_oversize_chunked_body_is_refused_once_the_cap_is_passed(rig: Rig) -> None:
    """No Content-Length: the stream is read only up to the cap, never to its end."""
    with connect(str(rig.http.base_url)) as sock:
        headers = {**_sign(b""), "Transfer-Encoding": "chunked"}
        sock.sendall(head("/slack/events", headers))
        try:
            for _ in range(CAP // CHUNK + 2):  # never the terminating zero-length chunk
                sock.sendall(f"{CHUNK:x}\r\n".encode() + b"a" * CHUNK + b"\r\n")
        except OSError:
            pass  # the service may stop reading once it has answered
        assert status_of(sock) == 413


def test_a_body_under_the_cap_is_still_served(rig: Rig) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    payload = block_action("U0ALICE", APPROVE_ACTION, record.hold_id, ts)
    payload["padding"] = "x" * (CAP // 2)
    assert rig.post_signed(payload).status_code == 200
    assert not _pending(rig, record.hold_id)


def _shape_wrong(hold_id: str) -> list[Any]:
    action = block_action("U0ALICE", APPROVE_ACTION, hold_id, "1.0")
    no_value = {**action, "actions": [{"action_id": APPROVE_ACTION, "type": "button"}]}
    no_user = {k: v for k, v in action.items() if k != "user"}
    user_id_object = {**action, "user": {"id": {"$ne": ""}, "team_id": "T0ACME"}}
    actions_text = {**action, "actions": "firewall_approve"}
    deny = view_submission("U0CAROL", hold_id, "no")
    view = {k: v for k, v in deny["view"].items() if k != "private_metadata"}
    no_metadata = {**deny, "view": view}
    state_list = {**deny, "view": {**deny["view"], "state": {"values": []}}}
    reason_number = json.loads(json.dumps(deny))
    reason_number["view"]["state"]["values"]["reason"]["reason_input"]["value"] = 12
    return [no_value, no_user, user_id_object, actions_text, no_metadata, state_list,
            reason_number, [action], "block_actions", None]  # fmt: skip


SHAPE_IDS = ["no-value", "no-user", "user-id-object", "actions-text", "no-metadata",
             "state-list", "reason-number", "list", "string", "null"]  # fmt: skip


@pytest.mark.parametrize("variant", range(len(SHAPE_IDS)), ids=SHAPE_IDS)
def test_shape_wrong_signed_payload_is_a_400_without_a_traceback(
    rig: Rig, variant: int, caplog: pytest.LogCaptureFixture
) -> None:
    _, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    body = form(_shape_wrong(record.hold_id)[variant]).encode()  # type: ignore[arg-type]
    assert _raw_post(rig, body, _sign(body)) == 400
    assert _pending(rig, record.hold_id)
    assert _tracebacks(caplog) == []


def _malformed() -> list[tuple[bytes, dict[str, str], int]]:
    good = form(block_action("U0ALICE", APPROVE_ACTION, "hold_x", "1.0")).encode()
    not_utf8 = b"payload=" + '{"type": "block_actions", "x": "\xe9"}'.encode("latin-1")
    not_json = b"payload=%7Bnot%20json"
    json_list = b"[1, 2]"
    no_payload = urlencode({"other": "1"}).encode()
    return [
        (good, {**_sign(good), "X-Slack-Request-Timestamp": "soon"}, 401),
        (good, {**_sign(good), "X-Slack-Request-Timestamp": "1" * 40}, 401),
        (good, {**_sign(good), "X-Slack-Signature": "v0=\xff" + "0" * 63}, 401),
        (good, {**_sign(good), "X-Slack-Signature": "v1=abc"}, 401),
        (not_utf8, _sign(not_utf8), 400),
        (not_json, _sign(not_json), 400),
        (json_list, {**_sign(json_list), "Content-Type": "application/json"}, 400),
        (no_payload, _sign(no_payload), 400),
        (b"payload=%ff%fe", _sign(b"payload=%ff%fe"), 400),
    ]


MALFORMED_IDS = ["timestamp-word", "timestamp-huge", "signature-latin1", "signature-v1",
                 "body-not-utf8", "payload-not-json", "json-list", "no-payload",
                 "payload-bytes-not-utf8"]  # fmt: skip


@pytest.mark.parametrize("variant", range(len(MALFORMED_IDS)), ids=MALFORMED_IDS)
def test_malformed_request_is_refused_with_4xx_never_500(
    rig: Rig, variant: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Unverifiable headers are a 401, a verified but unreadable body a 400; no traceback."""
    body, headers, expected = _malformed()[variant]
    assert _raw_post(rig, body, headers) == expected
    assert _tracebacks(caplog) == []


@pytest.mark.parametrize(
    ("team", "app"),
    [("T0EVIL", "A0FIREWALL"), ("T0ACME", "A0OTHERAPP"), (None, "A0FIREWALL"), ("T0ACME", None)],
    ids=["other-team", "other-app", "no-team", "no-app"],
)
def test_request_from_another_workspace_or_app_is_refused(
    rig: Rig, db_url: str, team: str | None, app: str | None
) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    payload = block_action("U0ALICE", APPROVE_ACTION, record.hold_id, ts)
    payload["team"] = {"id": team, "domain": "x"} if team else None
    payload["user"]["team_id"] = team
    payload["api_app_id"] = app
    response = rig.post_signed(payload)
    assert response.status_code == 403
    assert _pending(rig, record.hold_id)
    assert _refusals(db_url) == []
    assert rig.slack.calls_to("chat.postEphemeral") == []
    assert _metric(rig, 'firewall_slack_requests_refused_total{status="403"}') == 1


def test_deny_modal_from_another_workspace_is_refused(rig: Rig) -> None:
    _, record = rig.open_hold()
    rig.card_ts(record.hold_id)
    payload = view_submission("U0CAROL", record.hold_id, "no")
    payload["team"] = {"id": "T0EVIL", "domain": "evil"}
    payload["user"]["team_id"] = "T0EVIL"
    assert rig.post_signed(payload).status_code == 403
    assert _pending(rig, record.hold_id)


def test_exact_replay_is_acknowledged_without_deciding_or_telling_again(
    rig: Rig, db_url: str
) -> None:
    _, record = rig.open_hold(quorum=2)
    ts = rig.card_ts(record.hold_id)
    body = form(block_action("U0ALICE", APPROVE_ACTION, record.hold_id, ts)).encode()
    headers = _sign(body)
    assert _raw_post(rig, body, headers) == 200
    for _ in range(3):
        assert _raw_post(rig, body, headers) == 200
    counted = rig.agent.get(record.hold_id)
    assert counted is not None
    assert (counted.state, counted.approvals) == (HoldState.PENDING, ("alice",))
    assert _refusals(db_url) == []  # no "already approved" refusal
    time.sleep(0.3)  # give a wrongly re-sent ephemeral time to arrive
    assert rig.slack.calls_to("chat.postEphemeral") == []
    assert _metric(rig, "firewall_slack_replays_total") == 3


def test_replayed_deny_click_opens_the_modal_once(rig: Rig) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    body = form(block_action("U0CAROL", DENY_ACTION, record.hold_id, ts)).encode()
    headers = _sign(body)
    assert [_raw_post(rig, body, headers) for _ in range(2)] == [200, 200]
    rig.slack.wait_for("views.open")
    time.sleep(0.3)
    assert len(rig.slack.calls_to("views.open")) == 1


def test_same_click_signed_again_later_is_a_new_request(rig: Rig, db_url: str) -> None:
    """Replay protection keys on the signed request, not on its payload alone."""
    _, record = rig.open_hold(quorum=2)
    ts = rig.card_ts(record.hold_id)
    body = form(block_action("U0ALICE", APPROVE_ACTION, record.hold_id, ts)).encode()
    assert _raw_post(rig, body, _sign(body, str(int(time.time()) - 2))) == 200
    assert _raw_post(rig, body, _sign(body)) == 200
    assert _refusals(db_url) == ["already_approved"]
