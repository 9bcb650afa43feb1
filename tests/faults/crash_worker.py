"""The process a fault test kills with SIGKILL: guarded calls in flight when it dies.

``python -m tests.faults.crash_worker URL KEY_FILE POLICY_DIR STARTED RELEASE``

One thread makes the call ``call_blocked``, whose tool creates ``STARTED`` and then waits
for ``RELEASE``, a file the test never creates. Meanwhile the main thread makes allowed
calls ``stream_0``, ``stream_1``, ... back to back, so that appends are in flight at the
moment of the kill. Left alone, the worker gives up after ``LIFETIME_S`` and exits 3.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from firewall.types import ToolCall
from tests.faults.rig import fault_rig
from tests.gate_helpers import AGENT

BLOCKED = "call_blocked"
STREAM_PREFIX = "stream_"
LIFETIME_S = 120.0
GAVE_UP = 3


def lookup(call_id: str) -> ToolCall:
    """An allowed lookup with a chosen call id."""
    return ToolCall(
        tool="lookup",
        args={"customer_id": "c-1"},
        principal=AGENT,
        session_id="s-1",
        call_id=call_id,
    )


def blocking_tool(started: Path, release: Path) -> Callable[[], str]:
    """A tool that says it started, then waits for ``release`` (until the lifetime ends)."""

    def execute() -> str:
        started.touch()
        deadline = time.monotonic() + LIFETIME_S
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return "released"

    return execute


def main(url: str, key_file: str, policy_dir: str, started: str, release: str) -> int:
    rig = fault_rig(url, Path(key_file), Path(policy_dir))
    blocked = threading.Thread(
        target=rig.firewall.run,
        args=(lookup(BLOCKED), blocking_tool(Path(started), Path(release))),
        daemon=True,
    )
    blocked.start()
    deadline = time.monotonic() + LIFETIME_S
    n = 0
    while time.monotonic() < deadline:
        rig.firewall.run(lookup(f"{STREAM_PREFIX}{n}"), rig.tool())
        n += 1
    return GAVE_UP


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
