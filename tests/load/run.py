"""Start the agents and the approver as OS processes on one run's stores; gather reports."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from tests.load.accounting import read_lines
from tests.load.agent_worker import report_path, run_agent
from tests.load.approver_worker import approver_report, run_approver
from tests.load.workload import LoadSetup

APPROVER_POLL_S = 0.05
PATIENCE_S = 780  # under the test's own timeout, so a hang fails with exit codes shown


@dataclass(frozen=True)
class LoadRun:
    """What the processes said they did, and how long they took."""

    reports: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    seconds: float


def run_load(setup: LoadSetup, workers: int, calls: int) -> LoadRun:
    """Start ``workers`` agents and one approver at once (nothing created beforehand)."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    approver = context.Process(target=run_approver, args=(setup, stop, APPROVER_POLL_S))
    agents = [
        context.Process(target=run_agent, args=(setup, worker, calls)) for worker in range(workers)
    ]
    started = time.monotonic()
    for process in (approver, *agents):
        process.start()
    deadline = started + PATIENCE_S
    _join(agents, deadline)
    stop.set()
    _join([approver], deadline + 30)
    seconds = time.monotonic() - started
    codes = [process.exitcode for process in (*agents, approver)]
    assert codes == [0] * (workers + 1), f"exit codes (agents..., approver): {codes}"
    reports = [line for w in range(workers) for line in read_lines(report_path(setup, w))]
    return LoadRun(reports, read_lines(approver_report(setup)), seconds)


def _join(processes: Sequence[BaseProcess], deadline: float) -> None:
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join()
