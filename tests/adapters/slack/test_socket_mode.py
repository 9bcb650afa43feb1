"""Socket Mode: clicks arrive over the app's own connection, so there is no request URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from firewall.adapters.service import ServerThread, ServiceRuntime, create_app
from firewall.adapters.service.slack_endpoint import slack_route
from firewall.adapters.slack import APPROVE_ACTION
from slack_bolt import BoltRequest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from firewall.approvals import HoldState
from tests.adapters.rig import Rig
from tests.adapters.slack.mock_slack import APP_TOKEN
from tests.adapters.slack.mock_socket import MockSocketMode
from tests.adapters.slack.payloads import block_action


@pytest.fixture
def socket_runtime(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceRuntime]:
    """A second service runtime on the same store, configured for Socket Mode."""
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    config = rig.runtime.config
    assert config.slack is not None
    slack = config.slack.model_copy(update={"mode": "socket"})
    runtime = ServiceRuntime(config.model_copy(update={"slack": slack}))
    yield runtime
    runtime.close()


def test_socket_mode_needs_no_signing_secret_and_has_no_request_url(
    socket_runtime: ServiceRuntime,
) -> None:
    assert socket_runtime.slack is not None
    assert socket_runtime.slack.verifier is None
    assert socket_runtime.slack.app_token is not None
    assert socket_runtime.slack.app_token.get_secret_value() == APP_TOKEN


def test_click_over_the_socket_is_decided_as_the_clicking_user(
    rig: Rig, socket_runtime: ServiceRuntime
) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    assert socket_runtime.slack is not None
    payload = block_action("U0DAVE", APPROVE_ACTION, record.hold_id, ts)
    response = socket_runtime.slack.app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
    assert response.status == 200
    decided = rig.agent.get(record.hold_id)
    assert decided is not None
    assert (decided.state, decided.approvals) == (HoldState.APPROVED, ("dave",))


def test_there_is_no_request_url_in_socket_mode(socket_runtime: ServiceRuntime) -> None:
    assert socket_runtime.slack is not None
    app = Starlette(routes=[slack_route(socket_runtime.slack)])
    with TestClient(app) as client:
        response = client.post("/slack/events", content="payload=%7B%7D")
    assert response.status_code == 404


def test_service_in_socket_mode_takes_clicks_over_the_websocket_and_acks_them(
    rig: Rig, socket_runtime: ServiceRuntime
) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    with MockSocketMode() as socket_mode:
        rig.slack.socket_url = socket_mode.url
        with ServerThread(create_app(socket_runtime, own_runtime=False)):
            payload = block_action("U0CAROL", APPROVE_ACTION, record.hold_id, ts)
            socket_mode.send(
                {"envelope_id": "env-1", "type": "interactive", "payload": payload,
                 "accepts_response_payload": False}
            )  # fmt: skip
            assert socket_mode.ack()["envelope_id"] == "env-1"
            rig.slack.wait_until(
                lambda: (r := rig.agent.get(record.hold_id)) is not None and r.approvals,
                "the approval",
            )
    decided = rig.agent.get(record.hold_id)
    assert decided is not None
    assert (decided.state, decided.approvals) == (HoldState.APPROVED, ("carol",))


@pytest.mark.parametrize(
    "change",
    [
        {"team": {"id": "T0EVIL", "domain": "evil"}},
        {"api_app_id": "A0OTHERAPP"},
        {"actions": [{"action_id": APPROVE_ACTION, "type": "button"}]},
        {"user": {"id": ["U0CAROL"], "team_id": "T0ACME"}},
    ],
    ids=["other-team", "other-app", "no-value", "user-id-list"],
)
def test_socket_mode_refuses_foreign_or_shape_wrong_payloads_before_any_listener(
    rig: Rig, socket_runtime: ServiceRuntime, change: dict[str, object]
) -> None:
    _, record = rig.open_hold()
    ts = rig.card_ts(record.hold_id)
    assert socket_runtime.slack is not None
    payload = {**block_action("U0CAROL", APPROVE_ACTION, record.hold_id, ts), **change}
    response = socket_runtime.slack.app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
    assert response.status in {400, 403}
    pending = rig.agent.get(record.hold_id)
    assert pending is not None
    assert (pending.state, pending.approvals) == (HoldState.PENDING, ())
