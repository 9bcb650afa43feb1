"""``firewall serve --log-format json``: every line the service logs is one JSON object."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import structlog

from firewall.audit.keyfiles import generate_key_pair
from firewall.cli.logs import LogFormat, configure_logging
from tests.adapters.rig import render_toml

REPO = Path(__file__).parents[3]

pytestmark = pytest.mark.timeout(120)


def test_json_log_format_writes_one_json_object_per_line(tmp_path: Path) -> None:
    config = tmp_path / "firewall.toml"
    config.write_text(render_toml(f"sqlite:///{tmp_path / 'a.db'}", None), encoding="utf-8")
    key, _, _ = generate_key_pair(tmp_path / "keys", "audit")
    ready = tmp_path / "service.url"
    command = [
        sys.executable, "-m", "firewall.adapters.service", "--config", str(config),
        "--port", "0", "--ready-file", str(ready), "--log-format", "json",
    ]  # fmt: skip
    env = {**os.environ, "FIREWALL_AUDIT_KEY_FILE": str(key)}
    with subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            deadline = time.monotonic() + 60
            while not ready.exists() and server.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ready.exists(), f"the service did not start (exit {server.poll()})"
            url = ready.read_text(encoding="utf-8").strip()
            assert httpx.get(f"{url}/api/holds", timeout=10).status_code == 401
        finally:
            server.terminate()
            _, errors = server.communicate(timeout=30)
    lines = [line for line in errors.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    listening = [event for event in events if event.get("event") == "service_listening"]
    assert listening, errors
    assert listening[0]["url"] == url
    assert {"level", "timestamp"} <= set(listening[0])


def test_configured_logging_writes_to_the_stderr_of_the_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream replaced and closed later (test capture, a daemon's redirect) breaks no log call."""
    saved, root = structlog.get_config(), logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        first = io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        configure_logging(LogFormat.JSON)
        structlog.get_logger("t").info("first_event", n=1)
        logging.getLogger("uvicorn.error").warning("from stdlib")
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        structlog.get_logger("t").info("second_event")
        events = [json.loads(line)["event"] for line in second.getvalue().splitlines()]
        assert events == ["second_event"]
    finally:
        structlog.configure(**saved)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
