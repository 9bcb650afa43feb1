"""The REST API under abuse: token guessing, weak tokens, seeing other tenants' holds."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from firewall.approvals import HoldState
from firewall.errors import ConfigError
from firewall.service_config import AUTH_FAILURES_PER_MINUTE, hash_token
from tests.adapters.rig import TOKENS, Rig
from tests.adapters.slack.raw_http import connect, head, status_of
from tests.approvals.helpers import chain_records


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def _guess() -> dict[str, str]:
    return {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not in metrics"
    return float(match.group(1))


def _audited(db_url: str, event: str) -> list[dict[str, object]]:
    """The chain's ``event`` records, once the writer adopted the service's journal."""
    return [r.details for r in chain_records(db_url) if r.event == event]


def test_token_guessing_is_throttled_per_client_and_counted(rig: Rig, db_url: str) -> None:
    _, record = rig.open_hold()
    statuses = [
        rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=_guess()).status_code
        for _ in range(AUTH_FAILURES_PER_MINUTE + 5)
    ]
    assert statuses[:AUTH_FAILURES_PER_MINUTE] == [401] * AUTH_FAILURES_PER_MINUTE
    assert set(statuses[AUTH_FAILURES_PER_MINUTE:]) == {429}
    # the right token from the throttled client is refused too: guessing gets no answer
    throttled = rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=_auth("alice"))
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    still = rig.agent.get(record.hold_id)
    assert still is not None
    assert still.state is HoldState.PENDING
    metrics = rig.http.get("/metrics").text
    assert _metric(metrics, 'firewall_rest_auth_failures_total{reason="bad_token"}') == (
        AUTH_FAILURES_PER_MINUTE
    )
    assert _metric(metrics, 'firewall_rest_auth_failures_total{reason="throttled"}') == 6
    failures = _audited(db_url, "authentication_failed")
    assert len(failures) == AUTH_FAILURES_PER_MINUTE + 1  # each failure, then the throttle once
    assert {f["client"] for f in failures} == {"127.0.0.1"}
    assert failures[-1]["reason"] == "throttled"


def test_another_client_is_not_throttled_by_a_guessers_failures(rig: Rig) -> None:
    _, record = rig.open_hold()
    for _ in range(AUTH_FAILURES_PER_MINUTE + 1):
        rig.http.get("/api/holds", headers=_guess())
    other = httpx.Client(
        base_url=rig.http.base_url,
        transport=httpx.HTTPTransport(local_address="127.0.0.2"),
        timeout=30,
    )
    with other:
        response = other.post(f"/api/holds/{record.hold_id}/approve", headers=_auth("alice"))
    assert response.status_code == 200


def test_a_valid_token_does_not_count_as_a_failure(rig: Rig) -> None:
    for _ in range(AUTH_FAILURES_PER_MINUTE * 2):
        assert rig.http.get("/api/holds", headers=_auth("alice")).status_code == 200


@pytest.mark.parametrize(
    "token",
    ["hunter2", "a" * 64, "rest-token-of-alice-01234", "0123456789" * 4, "Password1!" * 4],
    ids=["short", "one-letter", "guessable", "digits-only", "repeated"],
)
def test_weak_token_is_refused_at_configuration(token: str) -> None:
    with pytest.raises(ConfigError, match="too weak"):
        hash_token(token)


def test_a_random_token_is_accepted() -> None:
    assert hash_token(secrets.token_urlsafe(32)).startswith("sha256:")
    assert hash_token(secrets.token_hex(32)).startswith("sha256:")


def _listed(rig: Rig, name: str, state: str = "all") -> set[str]:
    response = rig.http.get(f"/api/holds?state={state}", headers=_auth(name))
    assert response.status_code == 200
    return {hold["hold_id"] for hold in response.json()["holds"]}


def test_each_approver_sees_only_the_holds_they_may_decide(rig: Rig) -> None:
    _, supervisors = rig.open_hold()
    _, finance = rig.open_hold(approvers="finance")
    _, nobody = rig.open_hold(approvers="not-configured")
    assert _listed(rig, "alice") == {supervisors.hold_id}
    assert _listed(rig, "erin") == {finance.hold_id}
    assert nobody.hold_id not in _listed(rig, "carol") | _listed(rig, "erin")
    assert rig.http.get(f"/api/holds/{finance.hold_id}", headers=_auth("alice")).status_code == 404
    shown = rig.http.get(f"/api/holds/{finance.hold_id}", headers=_auth("erin"))
    assert shown.json()["hold"]["hold_id"] == finance.hold_id


def test_the_requester_sees_their_own_holds_but_not_others(rig: Rig) -> None:
    """bob requested every rig hold; he is no member of finance but sees its hold of his."""
    _, finance = rig.open_hold(approvers="finance")
    assert finance.hold_id in _listed(rig, "bob")
    assert finance.hold_id not in _listed(rig, "carol")
    assert rig.http.get(f"/api/holds/{finance.hold_id}", headers=_auth("bob")).status_code == 200


def test_oversize_deny_body_is_refused_before_it_is_sent(rig: Rig) -> None:
    _, record = rig.open_hold()
    with connect(str(rig.http.base_url)) as sock:
        headers = {**_auth("carol"), "Content-Type": "application/json"}
        headers["Content-Length"] = str(48 * 1024 * 1024)
        sock.sendall(head(f"/api/holds/{record.hold_id}/deny", headers) + b"{" + b" " * 65536)
        assert status_of(sock) == 413
    still = rig.agent.get(record.hold_id)
    assert still is not None
    assert still.state is HoldState.PENDING
