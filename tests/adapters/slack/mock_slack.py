"""A Slack Web API on loopback that records every call (like slack-bolt's mock server)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
WAIT_TIMEOUT_S = 30
RECHECK_S = 0.02


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as the server received it."""

    method: str
    token: str | None
    params: dict[str, Any]


class MockSlack:
    """Answers ``auth.test``, ``chat.*`` and ``views.open`` like Slack; rejects bad tokens."""

    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self.socket_url: str | None = None
        self.failing: set[str] = set()  # methods that answer {"ok": false} for now
        self._changed = threading.Condition()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> MockSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._changed:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1) -> list[SlackCall]:
        """Block until ``count`` calls of ``method`` arrived (fail after a safety timeout)."""
        self.wait_until(lambda: len(self.calls_to(method)) >= count, method)
        return self.calls_to(method)

    def wait_until(self, condition: Callable[[], object], what: str = "") -> list[SlackCall]:
        """Block until ``condition()`` holds, re-checking on every call and every 20 ms."""
        with self._changed:
            for _ in range(int(WAIT_TIMEOUT_S / RECHECK_S)):  # counted: time may be frozen
                if self._changed.wait_for(condition, timeout=RECHECK_S):
                    return list(self.calls)
            raise AssertionError(f"Slack never saw {what}; calls: {self.calls}")

    def _record(self, call: SlackCall) -> dict[str, Any]:
        with self._changed:  # decide failure when recording, so tests can then heal Slack
            failing = call.method in self.failing
            self.calls.append(call)
            self._changed.notify_all()
        if call.method == "apps.connections.open":
            if call.token != APP_TOKEN or self.socket_url is None:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.socket_url}
        if call.token != BOT_TOKEN:
            return {"ok": False, "error": "invalid_auth"}
        if failing:
            return {"ok": False, "error": "service_unavailable"}
        return self._answer(call)

    def _answer(self, call: SlackCall) -> dict[str, Any]:
        params = call.params
        if call.method == "auth.test":
            return {"ok": True, "team_id": "T0ACME", "user_id": "UBOT", "bot_id": "BBOT"}
        if call.method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        if call.method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if call.method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000001.{next(self._ts):06d}"}
        if call.method == "views.open":
            return {"ok": True, "view": {"id": "V0DENY", **params.get("view", {})}}
        return {"ok": False, "error": "unknown_method"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode("utf-8")
                if "json" in self.headers.get("Content-Type", ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw))
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
                answer = mock._record(SlackCall(self.path.strip("/"), token, params))
                body = json.dumps(answer).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
