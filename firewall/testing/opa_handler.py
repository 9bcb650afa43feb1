"""HTTP routes of :class:`~firewall.testing.opa_server.OpaTestServer`, shaped like OPA's.

Response bodies follow OPA's REST API reference: ``{"result": ...}`` on success,
``{"code": ..., "message": ...}`` on errors, ``{}`` for an undefined document.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from firewall.errors import PolicyError
from firewall.policy.document import UNDEFINED
from firewall.testing.opa_data import OpaData

_POLICIES = "/v1/policies"
_DATA = "/v1/data"


class _ServerState(Protocol):
    data: OpaData
    failure_status: int | None
    requests: list[tuple[str, str]]
    connections: set[Any]
    lock: Any


class OpaRequestHandler(BaseHTTPRequestHandler):
    """One request; the server object carries the store and the fault switch."""

    protocol_version = "HTTP/1.1"
    # One buffered write per response: headers and body in separate segments would
    # meet the client's delayed ACK and cost ~40 ms per keep-alive request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: Any

    def setup(self) -> None:
        super().setup()
        with self.state.lock:
            self.state.connections.add(self.connection)

    def finish(self) -> None:
        with self.state.lock:
            self.state.connections.discard(self.connection)
        super().finish()

    @property
    def state(self) -> _ServerState:
        state: _ServerState = self.server
        return state

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: requests are recorded in ``server.requests`` instead."""

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        body = self._body()
        with self.state.lock:
            self.state.requests.append((method, path))
        if self.state.failure_status is not None:
            self._error(self.state.failure_status, "internal_error", "injected failure")
        elif path == "/health" and method == "GET":
            self._send(HTTPStatus.OK, {})
        elif path == _POLICIES and method == "GET":
            self._list_policies()
        elif path.startswith(_POLICIES + "/"):
            self._policy(method, unquote(path.removeprefix(_POLICIES + "/")), body)
        elif (path == _DATA or path.startswith(_DATA + "/")) and method in {"GET", "POST"}:
            self._data(path.removeprefix(_DATA), body if method == "POST" else b"")
        else:
            self._error(HTTPStatus.NOT_FOUND, "resource_not_found", f"no route {method} {path}")

    def _policy(self, method: str, policy_id: str, body: bytes) -> None:
        if method == "PUT":
            self._put_policy(policy_id, body)
            return
        source = self.state.data.get(policy_id)
        if source is None or method not in {"GET", "DELETE"}:
            message = f'storage_not_found_error: policy id "{policy_id}"'
            self._error(HTTPStatus.NOT_FOUND, "resource_not_found", message)
        elif method == "GET":
            self._send(HTTPStatus.OK, {"result": _policy_view(policy_id, source)})
        else:
            self.state.data.delete(policy_id)
            self._send(HTTPStatus.OK, {})

    def _put_policy(self, policy_id: str, body: bytes) -> None:
        errors = self.state.data.put(policy_id, body.decode("utf-8", "replace"))
        if not errors:
            self._send(HTTPStatus.OK, {})
            return
        details = [{"code": "rego_parse_error", "message": error} for error in errors]
        message = "error(s) occurred while compiling module(s)"
        self._error(HTTPStatus.BAD_REQUEST, "invalid_parameter", message, details)

    def _list_policies(self) -> None:
        modules = self.state.data.modules()
        result = [_policy_view(policy_id, source) for policy_id, source in modules.items()]
        self._send(HTTPStatus.OK, {"result": result})

    def _data(self, path: str, body: bytes) -> None:
        try:
            request = json.loads(body) if body else {}
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, "invalid_parameter", f"body is not JSON: {exc}")
            return
        if not isinstance(request, dict):
            self._error(HTTPStatus.BAD_REQUEST, "invalid_parameter", "body must be an object")
            return
        segments = [unquote(part) for part in path.split("/") if part]
        try:
            value = self.state.data.query(segments, request.get("input", UNDEFINED))
        except PolicyError as exc:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", str(exc))
            return
        self._send(HTTPStatus.OK, {} if value is UNDEFINED else {"result": value})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _error(self, status: int, code: str, message: str, errors: list[Any] | None = None) -> None:
        payload: dict[str, Any] = {"code": code, "message": message}
        if errors:
            payload["errors"] = errors
        self._send(status, payload)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _policy_view(policy_id: str, source: str) -> dict[str, Any]:
    """OPA's policy object; the ``ast`` holds only the package path."""
    package = next(
        (line.split()[1] for line in source.splitlines() if line.startswith("package ")), ""
    )
    path = [{"type": "var", "value": "data"}]
    path += [{"type": "string", "value": part} for part in package.split(".") if part]
    return {"id": policy_id, "raw": source, "ast": {"package": {"path": path}, "rules": []}}
