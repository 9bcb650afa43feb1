"""A worker process SIGKILLed mid-call: the chain stays whole and the call is "in doubt".

The worker's blocked call was allowed (its decision is durable) and its tool is running
when the process dies, while other calls are being appended back to back. Afterwards
``firewall audit verify`` exits 0 and lists the blocked call as in doubt, no record is
half-written or lost, and a new writer continues the chain from where it stopped.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from firewall.approvals.store import SqlApprovalStore
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.store import SqlAuditLog
from firewall.gate import Executed
from tests.faults.crash_worker import BLOCKED, STREAM_PREFIX, lookup
from tests.faults.rig import fault_rig
from tests.faults.verdict import (
    ALLOWED_AND_RAN,
    ALLOWED_ONLY,
    Entry,
    assert_verified,
    records_by_call,
)

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
WAIT_S = 90.0
MIN_RECORDS_BEFORE_KILL = 40  # about 20 streamed calls: appends are surely in flight


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, key_files: tuple[Path, Path]) -> str:
    """Fresh stores on each backend, their tables created before the worker starts."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_schema_url"
    url: str = request.getfixturevalue(fixture)
    SqlAuditLog(url, keys=WriterKeys.from_file(key_files[0])).close()
    SqlApprovalStore(url).close()
    return url


def wait_for(condition: Callable[[], bool], worker: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``condition``; fail if the worker exits first or the wait runs out."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if worker.poll() is not None:
            pytest.fail(f"worker exited with {worker.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"worker never reached the kill point:\n{log.read_text()}")
        time.sleep(0.05)


def mid_call(log: SqlAuditLog, started: Path) -> Callable[[], bool]:
    """True once the blocked call's decision is durable, its tool runs, and appends flow."""

    def reached() -> bool:
        head = log.head()
        flowing = head is not None and head[0] >= MIN_RECORDS_BEFORE_KILL
        return flowing and started.exists() and bool(log.records_for_call(BLOCKED))

    return reached


def kill_mid_call(url: str, key_file: Path, policy_dir: Path, workdir: Path) -> int:
    """Start the worker, SIGKILL it once its blocked call runs; its exit status."""
    started, output = workdir / "started", workdir / "worker.log"
    command = [
        sys.executable, "-m", "tests.faults.crash_worker",
        url, str(key_file), str(policy_dir), str(started), str(workdir / "never-created"),
    ]  # fmt: skip
    with output.open("wb") as sink, SqlAuditLog(url, create=False) as log:
        worker = subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_for(mid_call(log, started), worker, output)
            worker.send_signal(signal.SIGKILL)
            return worker.wait(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=30)


def check_streamed_calls(calls: dict[str, list[Entry]]) -> set[str]:
    """Every streamed call before the last ran and was recorded; the in-doubt ones."""
    numbers = sorted(
        int(c.removeprefix(STREAM_PREFIX)) for c in calls if c.startswith(STREAM_PREFIX)
    )
    assert numbers == list(range(len(numbers)))  # none lost in the middle
    *finished, last = (f"{STREAM_PREFIX}{n}" for n in numbers)
    assert all(calls[call_id] == ALLOWED_AND_RAN for call_id in finished)
    assert calls[last] in (ALLOWED_AND_RAN, ALLOWED_ONLY)  # killed before or after its outcome
    return {BLOCKED} | ({last} if calls[last] == ALLOWED_ONLY else set())


def test_sigkill_mid_call_leaves_the_call_in_doubt_and_the_chain_whole(
    store_url: str, key_files: tuple[Path, Path], policy_dir: Path, tmp_path: Path
) -> None:
    private_key, public_key = key_files
    status = kill_mid_call(store_url, private_key, policy_dir, tmp_path)
    assert status == -signal.SIGKILL

    verdict = assert_verified(store_url, public_key)
    calls = records_by_call(store_url)
    assert calls[BLOCKED] == ALLOWED_ONLY
    assert set(verdict.in_doubt) == check_streamed_calls(calls)
    assert verdict.records_checked == sum(len(entries) for entries in calls.values())
    assert "In doubt (allowed, no outcome recorded):" in verdict.text
    assert f"  {BLOCKED} (tool lookup, decision at seq " in verdict.text

    rig = fault_rig(store_url, private_key, policy_dir)  # a new writer on the dead one's head
    try:
        after = rig.firewall.run(lookup("call_after"), rig.tool())
    finally:
        rig.close()
    assert isinstance(after, Executed)
    again = assert_verified(store_url, public_key)
    assert again.records_checked == verdict.records_checked + 2
    assert again.in_doubt == verdict.in_doubt
    assert records_by_call(store_url)["call_after"] == ALLOWED_AND_RAN
