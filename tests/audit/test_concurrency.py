"""Several processes appending to one log build one gapless chain."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest

from firewall.audit.events import AuditEvent
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import verify_store
from tests.audit.append_worker import append_events

WORKERS = 4
APPENDS = 200


def run_workers(url: str, batch: int) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=append_events, args=(url, worker, APPENDS, batch))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join()
    assert [process.exitcode for process in processes] == [0] * WORKERS


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 7], ids=["append", "append_many"])
def test_concurrent_processes_build_one_gapless_chain(audit_url: str, batch: int) -> None:
    SqlAuditLog(audit_url).close()
    run_workers(audit_url, batch)
    total = WORKERS * APPENDS
    report = verify_store(audit_url)
    assert report.valid, report.findings
    assert (report.records_checked, report.first_seq, report.last_seq) == (total, 1, total)
    with SqlAuditLog(audit_url) as log:
        records = list(log.records())
    for worker in range(WORKERS):
        mine = [r.details["n"] for r in records if (r.call_id or "").startswith(f"w{worker}_")]
        assert mine == list(range(APPENDS))


def test_threads_sharing_one_log_build_one_gapless_chain(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log, ThreadPoolExecutor(max_workers=8) as pool:
        appended = list(
            pool.map(
                lambda n: log.append(AuditEvent(event="decision", details={"n": n})), range(200)
            )
        )
        report = verify_store(audit_url)
    assert report.valid, report.findings
    assert sorted(record.seq for record in appended) == list(range(1, 201))
