"""The OPA test server answers the REST API subset with OPA's documented shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from firewall.testing.opa_server import OpaTestServer, opa_test_server

MODULE = """package app.authz

import rego.v1

default allow := false

allow if input.user == "alice"

limits := {"max": 3, "list": [10, 20]}
"""


@pytest.fixture
def opa() -> Iterator[OpaTestServer]:
    with OpaTestServer() as server:
        yield server


@pytest.fixture
def http(opa: OpaTestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=opa.url, timeout=30) as client:
        yield client


def put(http: httpx.Client, policy_id: str, source: str) -> httpx.Response:
    return http.put(
        f"/v1/policies/{policy_id}", content=source, headers={"Content-Type": "text/plain"}
    )


def test_health_is_ok(http: httpx.Client) -> None:
    response = http.get("/health")
    assert (response.status_code, response.json()) == (200, {})


def test_put_get_list_and_delete_a_policy(http: httpx.Client) -> None:
    assert put(http, "app/authz.rego", MODULE).json() == {}
    policy = http.get("/v1/policies/app/authz.rego").json()["result"]
    assert policy["id"] == "app/authz.rego"
    assert policy["raw"] == MODULE
    assert [part["value"] for part in policy["ast"]["package"]["path"]] == ["data", "app", "authz"]
    assert [p["id"] for p in http.get("/v1/policies").json()["result"]] == ["app/authz.rego"]
    assert http.delete("/v1/policies/app/authz.rego").json() == {}
    assert http.get("/v1/policies").json() == {"result": []}


def test_unknown_policy_is_not_found(http: httpx.Client) -> None:
    response = http.get("/v1/policies/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "resource_not_found"
    assert http.delete("/v1/policies/nope").status_code == 404


def test_policy_that_does_not_parse_is_rejected(http: httpx.Client, opa: OpaTestServer) -> None:
    response = put(http, "bad.rego", "package bad\n\nx := {\n")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_parameter"
    assert body["errors"][0]["code"] == "rego_parse_error"
    assert body["errors"][0]["message"].startswith("bad.rego:3:")
    assert opa.data.modules() == {}


def test_data_query_returns_result(http: httpx.Client) -> None:
    put(http, "authz.rego", MODULE)
    response = http.post("/v1/data/app/authz/allow", json={"input": {"user": "alice"}})
    assert response.json() == {"result": True}
    assert http.post("/v1/data/app/authz/allow", json={"input": {"user": "bob"}}).json() == {
        "result": False
    }


def test_undefined_document_is_an_empty_object(http: httpx.Client) -> None:
    put(http, "authz.rego", MODULE)
    assert http.post("/v1/data/app/authz/missing", json={"input": {}}).json() == {}
    assert http.post("/v1/data/nothing/here", json={}).json() == {}


def test_paths_below_a_rule_walk_into_its_value(http: httpx.Client) -> None:
    put(http, "authz.rego", MODULE)
    assert http.post("/v1/data/app/authz/limits/max", json={}).json() == {"result": 3}
    assert http.post("/v1/data/app/authz/limits/list/1", json={}).json() == {"result": 20}
    assert http.post("/v1/data/app/authz/limits/list/9", json={}).json() == {}


def test_paths_above_a_package_assemble_the_document(http: httpx.Client) -> None:
    put(http, "authz.rego", MODULE)
    put(http, "other.rego", 'package app.other\n\nname := "x"\n')
    result = http.post("/v1/data/app", json={"input": {"user": "alice"}}).json()["result"]
    assert result["authz"]["allow"] is True
    assert result["other"] == {"name": "x"}


def test_get_data_evaluates_without_input(http: httpx.Client) -> None:
    put(http, "authz.rego", MODULE)
    assert http.get("/v1/data/app/authz/allow").json() == {"result": False}


def test_malformed_body_is_a_bad_request(http: httpx.Client) -> None:
    put(http, "authz.rego", MODULE)
    response = http.post("/v1/data/app/authz/allow", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter"


def test_policies_that_do_not_compile_answer_500(http: httpx.Client) -> None:
    put(http, "a.rego", "package a\n\nx := 1\n")
    put(http, "a2.rego", "package a\n\nx := 2\n")
    response = http.post("/v1/data/a/x", json={})
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"


def test_injected_failure_answers_every_route_until_cleared(
    http: httpx.Client, opa: OpaTestServer
) -> None:
    opa.fail_with(502)
    assert http.get("/health").status_code == 502
    assert http.post("/v1/data/x", json={}).json() == {
        "code": "internal_error",
        "message": "injected failure",
    }
    opa.fail_with(None)
    assert http.get("/health").status_code == 200


def test_requests_are_recorded(http: httpx.Client, opa: OpaTestServer) -> None:
    http.get("/health")
    http.post("/v1/data/a/b?pretty=true", json={})
    assert opa.requests == [("GET", "/health"), ("POST", "/v1/data/a/b")]


def test_stopped_server_refuses_connections(opa: OpaTestServer) -> None:
    url = opa.url
    opa.stop()
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.get(url + "/health")


def test_context_function_yields_a_url_with_policies_loaded(shipped_policies: Path) -> None:
    with opa_test_server(shipped_policies) as url, httpx.Client(base_url=url) as client:
        ids = [policy["id"] for policy in client.get("/v1/policies").json()["result"]]
    assert "decision.rego" in ids
    assert not [policy_id for policy_id in ids if policy_id.endswith("_test.rego")]
