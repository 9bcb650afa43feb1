"""The service app: /healthz, /metrics, and running without Slack."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from firewall.adapters.service import ServerThread, ServiceRuntime, create_app
from firewall.adapters.slack import APPROVE_ACTION
from sqlalchemy import create_engine, text

from tests.adapters.rig import TOKENS, Rig, running_service


@pytest.fixture
def rest_only(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """The service without a [slack] table."""
    with running_service(db_url, monkeypatch, with_slack=False) as running:
        yield running


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not in metrics"
    return float(match.group(1))


def test_healthz_reports_ok_when_the_store_answers(rig: Rig) -> None:
    response = rig.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "slack": True}


def test_healthz_is_503_when_the_store_cannot_answer(rig: Rig, db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE approval_holds"))
    engine.dispose()
    response = rig.http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_metrics_count_pending_holds_decisions_and_refusals(rig: Rig) -> None:
    _, first = rig.open_hold()
    rig.open_hold()
    text = rig.http.get("/metrics").text
    assert _metric(text, "firewall_holds_pending") == 2
    ts = rig.card_ts(first.hold_id)
    rig.click("U0ERIN", APPROVE_ACTION, first.hold_id, ts)
    rig.click("U0ALICE", APPROVE_ACTION, first.hold_id, ts)
    headers = {"Authorization": f"Bearer {TOKENS['carol']}"}
    rig.http.post(f"/api/holds/{first.hold_id}/deny", headers=headers)
    text = rig.http.get("/metrics").text
    assert _metric(text, "firewall_holds_pending") == 1
    assert _metric(text, 'firewall_hold_decisions_total{channel="slack",outcome="approved"}') == 1
    refusals = 'firewall_approval_refusals_total{channel="slack",code="not_an_approver"}'
    assert _metric(text, refusals) == 1
    assert _metric(text, 'firewall_approval_refusals_total{channel="rest",code="not_pending"}') == 1
    assert _metric(text, 'firewall_hold_time_to_decision_seconds_count{outcome="approved"}') == 1
    assert _metric(text, 'firewall_decision_request_seconds_count{channel="rest"}') == 1


def test_without_slack_there_is_no_slack_endpoint_but_rest_works(rest_only: Rig) -> None:
    _, record = rest_only.open_hold()
    assert rest_only.http.post("/slack/events", content="x").status_code == 404
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    response = rest_only.http.post(f"/api/holds/{record.hold_id}/approve", headers=headers)
    assert response.json()["hold"]["state"] == "approved"
    assert rest_only.http.get("/healthz").json() == {"status": "ok", "slack": False}
    assert rest_only.slack.calls == []


def test_app_shutdown_stops_the_worker_and_closes_the_stores(rig: Rig) -> None:
    runtime = ServiceRuntime(rig.runtime.config)
    with ServerThread(create_app(runtime)) as server:
        assert server.url.startswith("http://127.0.0.1:")
    assert runtime.worker._thread is None
