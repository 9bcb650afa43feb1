"""Audit log load: gate-like appends from one or many writer processes, and verification.

Each gate call appends what the gate appends for an allowed lookup: a decision (with a
personal argument and the customer as data subject), then an outcome, one ``append``
each, so every append is durable before the next starts.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from firewall.audit.events import AuditEvent
from firewall.audit.findings import VerifyReport
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.settings import CheckpointPolicy
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_store

EVENTS_PER_CALL = 2
WARMUP_CALLS_PER_WRITER = 1
BUILD_BATCH = 1000


def gate_events(worker: int, call: int) -> tuple[AuditEvent, AuditEvent]:
    """The decision and outcome records the gate writes for one allowed lookup."""
    principal = {
        "agent_id": f"bench-{worker}",
        "tenant": "acme",
        "scopes": ["crm:read"],
        "on_behalf_of": f"customer:c-{worker}",
        "requested_by": None,
    }
    call_id = f"w{worker}_{call}"
    decision = AuditEvent(
        event="decision",
        call_id=call_id,
        decision_id=f"dec_{uuid.uuid4().hex}",
        principal=principal,
        tool="crm_lookup",
        outcome="allow",
        policy_revision="sha256:" + "ab" * 32,
        args={"customer_id": f"c-{worker}"},
        personal_args=("customer_id",),
        details={"stage": "decided"},
    )
    outcome = AuditEvent(
        event="outcome", call_id=call_id, principal=principal, tool="crm_lookup", outcome="ok"
    )
    return decision, outcome


def append_calls(log: SqlAuditLog, worker: int, calls: int) -> None:
    """Append ``calls`` gate calls' records, one durable append at a time."""
    for call in range(calls):
        for event in gate_events(worker, call):
            log.append(event)


def append_in_process(url: str, key_file: Path, calls: int) -> float:
    """Seconds one writer in this process takes for ``calls`` gate calls (after a warm-up one)."""
    with SqlAuditLog(url, keys=WriterKeys.from_file(key_file)) as log:
        append_calls(log, 1, WARMUP_CALLS_PER_WRITER)
        started = time.perf_counter()
        append_calls(log, 0, calls)
        return time.perf_counter() - started


def writer(
    *, url: str, key_file: str, worker: int, threads: int, calls: int, barrier: Any, times: Any
) -> None:
    """One writer process: one warm-up call, then ``threads`` callers of ``calls`` each.

    Puts its (start, end) ``perf_counter`` times on ``times`` (the clock is system-wide),
    so process start-up and shutdown stay out of the measured window.
    """
    with SqlAuditLog(url, keys=WriterKeys.from_file(Path(key_file))) as log:
        append_calls(log, worker * 1000 + threads, WARMUP_CALLS_PER_WRITER)
        barrier.wait()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            ids = [worker * 1000 + thread for thread in range(threads)]
            list(pool.map(lambda caller: append_calls(log, caller, calls), ids))
        times.put((started, time.perf_counter()))


def append_in_processes(
    url: str, key_file: Path, writers: int, calls: int, threads: int = 1
) -> float:
    """Seconds from the first writer's start to the last one's end (all start together).

    Each writer appends ``WARMUP_CALLS_PER_WRITER`` calls before the start, not counted.
    """
    SqlAuditLog(url, keys=WriterKeys.from_file(key_file)).close()  # create the schema once
    context = multiprocessing.get_context("spawn")
    barrier, times = context.Barrier(writers), context.SimpleQueue()
    settings = {"url": url, "key_file": str(key_file), "threads": threads, "calls": calls}
    processes = [
        context.Process(
            target=writer, kwargs={**settings, "worker": n, "barrier": barrier, "times": times}
        )
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    if any(process.exitcode for process in processes):
        raise RuntimeError("an audit writer process failed")
    windows: list[tuple[float, float]] = [times.get() for _ in processes]
    return max(end for _, end in windows) - min(start for start, _ in windows)


def build_log(url: str, key_file: Path, records: int) -> int:
    """A log of about ``records`` gate-like records, appended in batches; how many it has.

    Batching changes only how fast the log is built, not what a verifier checks.
    """
    calls = records // EVENTS_PER_CALL
    per_batch = BUILD_BATCH // EVENTS_PER_CALL
    policy = CheckpointPolicy(every_records=1000)
    with SqlAuditLog(url, keys=WriterKeys.from_file(key_file), checkpoints=policy) as log:
        for start in range(0, calls, per_batch):
            batch = range(start, min(start + per_batch, calls))
            log.append_sealed([event for call in batch for event in gate_events(1, call)])
    return calls * EVENTS_PER_CALL


def timed_verify(url: str, trust: Trust) -> tuple[VerifyReport, float]:
    """Verify the whole log at ``url``; the report and the seconds it took."""
    started = time.perf_counter()
    report = verify_store(url, trust)
    return report, time.perf_counter() - started


def checked(report: VerifyReport, expected_records: int) -> VerifyReport:
    """``report`` if the log verified with every record; otherwise the run is wrong."""
    if report.status != "valid" or report.records_checked != expected_records:
        raise RuntimeError(
            f"audit log did not verify: {report.status}, "
            f"{report.records_checked}/{expected_records} records"
        )
    return report
