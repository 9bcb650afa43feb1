"""The README's manual-approval flow, run exactly as written, works (so it cannot drift).

The commands come from the bash block after ``<!-- readme-flow: manual-approval -->`` in
README.md: the demo in one process ("terminal 1"), the others as the supervisor would
type them, with ``HOLD_ID`` replaced by the id the demo printed. Each runs through the
installed ``firewall`` script, in a fresh working directory.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"
MARKER = "<!-- readme-flow: manual-approval -->"
HOLD_LINE = re.compile(r"^HOLD .* as hold (hold_[0-9a-f]+):$")
WAIT_S = 120

pytestmark = pytest.mark.slow


def readme_commands() -> list[list[str]]:
    """The block's command lines, split as a shell would, comments dropped."""
    text = README.read_text(encoding="utf-8")
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def _env() -> dict[str, str]:
    scripts = str(Path(sys.executable).parent)  # where the installed `firewall` lives
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIREWALL_")}
    return {**env, "PATH": scripts + os.pathsep + env.get("PATH", ""), "COLUMNS": "200"}


def _lines(process: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.put(line.rstrip("\n"))


def _next_hold(lines: queue.Queue[str], seen: list[str]) -> str:
    while True:
        line = lines.get(timeout=WAIT_S)
        seen.append(line)
        if match := HOLD_LINE.match(line):
            return match.group(1)


def test_the_readme_manual_approval_flow_runs_as_written(tmp_path: Path) -> None:
    demo, listing, approve, deny = readme_commands()
    assert demo[:2] == ["firewall", "demo"]
    assert [listing[:3], approve[:3], deny[:3]] == [
        ["firewall", "approvals", "list"],
        ["firewall", "approvals", "approve"],
        ["firewall", "approvals", "deny"],
    ]
    env, seen = _env(), []
    lines: queue.Queue[str] = queue.Queue()

    def run(command: list[str], hold_id: str) -> subprocess.CompletedProcess[str]:
        argv = [hold_id if word == "HOLD_ID" else word for word in command]
        return subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S, check=False
        )

    with subprocess.Popen(
        demo, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        threading.Thread(target=_lines, args=(process, lines), daemon=True).start()
        try:
            refund = _next_hold(lines, seen)
            listed = run(listing, refund)
            assert listed.returncode == 0, listed.stderr
            assert refund in listed.stdout
            approved = run(approve, refund)
            assert approved.returncode == 0, approved.stderr
            injected = _next_hold(lines, seen)
            denied = run(deny, injected)
            assert denied.returncode == 0, denied.stderr
            assert process.wait(WAIT_S) == 0, "\n".join(seen)
        finally:
            process.kill()
    while not lines.empty():
        seen.append(lines.get())
    output = "\n".join(seen)
    assert "refunded 450.00 on order o-2" in output
    assert "denied by alice: not eligible" in output
    assert "2 held (1 approved and executed, 1 denied)" in output
    assert "audit chain intact" in output
