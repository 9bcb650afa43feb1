"""The OPA engine against a real local OPA test server: faults are PolicyErrors."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from firewall.errors import ConfigError, MalformedDecisionError, MissingDependencyError, PolicyError
from firewall.policy.files import read_policy, revision
from firewall.policy.opa_server import OpaServerEngine
from firewall.testing.opa_server import OpaTestServer

CRM_INPUT = {
    "tool": {"name": "crm_lookup"},
    "principal": {"tenant": "t1"},
    "context": {"facts": {"customer": {"id": "c1", "tenant": "t1"}}},
}


@pytest.fixture
def server(shipped_policies: Path) -> Iterator[OpaTestServer]:
    with OpaTestServer() as opa:
        opa.load_policies(shipped_policies)
        yield opa


@pytest.fixture
def engine(server: OpaTestServer, shipped_policies: Path) -> Iterator[OpaServerEngine]:
    opa_engine = OpaServerEngine(server.url, shipped_policies, retries=0, timeout_s=5)
    yield opa_engine
    opa_engine.close()


def test_engine_posts_input_to_the_decision_path(
    engine: OpaServerEngine, server: OpaTestServer
) -> None:
    assert engine.evaluate(CRM_INPUT).outcome == "allow"
    assert server.requests[-1] == ("POST", "/v1/data/firewall/decision")


def test_server_error_is_a_policy_error(engine: OpaServerEngine, server: OpaTestServer) -> None:
    server.fail_with(500)
    with pytest.raises(PolicyError, match=r"OPA at http://127\.0\.0\.1:\d+ could not answer"):
        engine.evaluate(CRM_INPUT)


async def test_async_server_error_is_a_policy_error(
    engine: OpaServerEngine, server: OpaTestServer
) -> None:
    server.fail_with(503)
    with pytest.raises(PolicyError, match="could not answer"):
        await engine.aevaluate(CRM_INPUT)


def test_server_recovers_after_the_fault_is_cleared(
    engine: OpaServerEngine, server: OpaTestServer
) -> None:
    server.fail_with(500)
    with pytest.raises(PolicyError):
        engine.evaluate(CRM_INPUT)
    server.fail_with(None)
    assert engine.evaluate(CRM_INPUT).outcome == "allow"


def test_unreachable_server_is_a_policy_error(
    engine: OpaServerEngine, server: OpaTestServer
) -> None:
    engine.evaluate(CRM_INPUT)
    server.stop()
    with pytest.raises(PolicyError, match="could not answer"):
        engine.evaluate(CRM_INPUT)


async def test_async_unreachable_server_is_a_policy_error(
    engine: OpaServerEngine, server: OpaTestServer
) -> None:
    server.stop()
    with pytest.raises(PolicyError, match="could not answer"):
        await engine.aevaluate(CRM_INPUT)


def test_undefined_decision_is_malformed(shipped_policies: Path) -> None:
    with OpaTestServer() as empty:
        empty.data.put("other.rego", "package other\n\nx := 1\n")
        engine = OpaServerEngine(empty.url, shipped_policies, retries=0)
        with pytest.raises(
            MalformedDecisionError, match=r"no decision at data\.firewall\.decision"
        ):
            engine.evaluate(CRM_INPUT)
        engine.close()


async def test_async_undefined_decision_is_malformed(shipped_policies: Path) -> None:
    with OpaTestServer() as empty:
        empty.data.put("other.rego", "package other\n\nx := 1\n")
        engine = OpaServerEngine(empty.url, shipped_policies, retries=0)
        with pytest.raises(MalformedDecisionError, match="no decision"):
            await engine.aevaluate(CRM_INPUT)
        engine.close()


def test_malformed_decision_from_opa_names_the_field(
    write_policy: Callable[..., Path],
) -> None:
    policy_dir = write_policy(decision='package firewall\n\ndecision := {"outcome": "yes"}\n')
    with OpaTestServer() as opa:
        engine = OpaServerEngine(opa.url, policy_dir, upload_policies=True, retries=0)
        with pytest.raises(MalformedDecisionError, match=r"decision\.outcome: must be allow"):
            engine.evaluate({})
        engine.close()


def test_upload_policies_puts_every_policy_file(shipped_policies: Path) -> None:
    with OpaTestServer() as opa:
        engine = OpaServerEngine(opa.url, shipped_policies, upload_policies=True, retries=0)
        uploaded = sorted(opa.data.modules())
        engine.close()
    expected = sorted(f"firewall/{module.name}" for module in read_policy(shipped_policies))
    assert uploaded == expected


def test_upload_keeps_v1_source_byte_for_byte(shipped_policies: Path) -> None:
    with OpaTestServer() as opa:
        OpaServerEngine(opa.url, shipped_policies, upload_policies=True, retries=0).close()
        stored = opa.data.get("firewall/decision.rego")
    assert stored == (shipped_policies / "decision.rego").read_text(encoding="utf-8")


def test_rejected_upload_is_a_policy_error_naming_the_file(
    write_policy: Callable[..., Path],
) -> None:
    policy_dir = write_policy(decision="package firewall\n\ndecision := {\n")
    with OpaTestServer() as opa, pytest.raises(PolicyError, match=r"rejected decision\.rego"):
        OpaServerEngine(opa.url, policy_dir, upload_policies=True, retries=0)


def test_upload_to_unreachable_server_is_a_policy_error(shipped_policies: Path) -> None:
    opa = OpaTestServer()
    url = opa.url
    opa.start()
    opa.stop()
    with pytest.raises(PolicyError, match="could not upload"):
        OpaServerEngine(url, shipped_policies, upload_policies=True, retries=0)


def test_revision_is_that_of_the_local_policy_files(
    engine: OpaServerEngine, shipped_policies: Path
) -> None:
    assert engine.revision == revision(read_policy(shipped_policies))


def test_from_url_reads_options(server: OpaTestServer, shipped_policies: Path) -> None:
    url = server.engine_url + "?upload_policies=true&timeout_s=2&retries=0"
    server.data.delete("decision.rego")
    engine = OpaServerEngine.from_url(url, shipped_policies)
    assert engine.evaluate(CRM_INPUT).outcome == "allow"
    assert "firewall/decision.rego" in server.data.modules()
    engine.close()


@pytest.mark.parametrize(
    "url",
    [
        "opa+http://127.0.0.1:8181/v1",
        "opa+http://user:secret@127.0.0.1:8181",
        "opa+http://127.0.0.1:8181?color=blue",
        "opa+http://127.0.0.1:8181?retries=-1",
        "opa+http://127.0.0.1:8181?timeout_s=soon",
        "opa+http://127.0.0.1:8181?upload_policies=maybe",
        "opa+ftp://127.0.0.1:8181",
        "opa+http://127.0.0.1:notaport",
    ],
)
def test_bad_opa_urls_are_config_errors(url: str, shipped_policies: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        OpaServerEngine.from_url(url, shipped_policies)
    assert caught.value.key == "policy.engine"
    assert "secret" not in str(caught.value)


def test_missing_opa_client_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, shipped_policies: Path
) -> None:
    monkeypatch.setitem(sys.modules, "opa_client", None)
    with pytest.raises(MissingDependencyError, match=r"agent-firewall\[opa\]"):
        OpaServerEngine("http://127.0.0.1:8181", shipped_policies)


class _Recorder(BaseHTTPRequestHandler):
    """Records each request body; answers every query with an allow."""

    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({"result": {"outcome": "allow", "reasons": []}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


@pytest.fixture
def recorder() -> Iterator[str]:
    """A loopback HTTP server recording what the OPA engine sends; its URL."""
    _Recorder.bodies = []
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_address[1]}"
    http.shutdown()
    http.server_close()


NUMBERS = [100.0000004, 5000.0000004, 1e-7, 0.30000000000000004, 1e308, -0.0, 2**53 - 1, 19.99]


async def test_numbers_reach_opa_as_the_exact_decimals_of_the_tools_values(
    recorder: str, shipped_policies: Path
) -> None:
    """OPA compares the JSON text of a number exactly: it must be the value's own text."""
    engine = OpaServerEngine(recorder, shipped_policies, retries=0, timeout_s=5)
    policy_input = {"args": {"amount": NUMBERS[0], "nested": {"levels": NUMBERS}}}
    engine.evaluate(policy_input)
    await engine.aevaluate(policy_input)
    engine.close()
    for body in _Recorder.bodies:
        sent = json.loads(body, parse_float=Decimal, parse_int=Decimal)["input"]["args"]
        assert sent["amount"] == Decimal("100.0000004")
        assert sent["nested"]["levels"] == [Decimal(repr(number)) for number in NUMBERS]
    assert len(_Recorder.bodies) == 2
