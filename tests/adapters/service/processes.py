"""Starting ``firewall serve`` and the agent as real OS processes, and reading their output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen
from typing import Any

REPO = Path(__file__).parents[3]
STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
AGENT_TIMEOUT_S = 120
POLL_S = 0.05


@contextmanager
def service_process(config: Path, env: dict[str, str], *options: str) -> Iterator[str]:
    """``python -m firewall.adapters.service`` on a free loopback port; yields its URL."""
    ready = config.with_name("service.url")
    command = [
        sys.executable, "-m", "firewall.adapters.service",
        "--config", str(config), "--port", "0", "--ready-file", str(ready), *options,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env})
    try:
        for _ in range(int(STARTUP_TIMEOUT_S / POLL_S)):
            if ready.exists() or process.poll() is not None:
                break
            time.sleep(POLL_S)
        assert ready.exists(), f"the service did not start (exit code {process.poll()})"
        yield ready.read_text(encoding="utf-8").strip()
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def agent_process(config: Path, amount: float, env: dict[str, str]) -> Iterator[Popen[str]]:
    """The agent worker, holding a refund of ``amount``; killed if it outlives the test's
    patience, so that a broken approval path fails the test instead of hanging it."""
    command = [
        sys.executable, "-m", "tests.adapters.service.agent_worker", str(config), str(amount),
    ]  # fmt: skip
    with subprocess.Popen(
        command, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True
    ) as process:
        watchdog = threading.Timer(AGENT_TIMEOUT_S, process.kill)
        watchdog.start()
        try:
            yield process
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()


def next_event(process: subprocess.Popen[str], event: str) -> dict[str, Any]:
    """Read the agent's JSON lines until ``event`` (fail if it exits first)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("{"):
            message: dict[str, Any] = json.loads(line)
            if message["event"] == event:
                return message
    raise AssertionError(f"the agent exited ({process.wait()}) before {event!r}")
