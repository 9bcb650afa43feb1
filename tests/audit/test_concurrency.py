"""Many processes guard calls against one PostgreSQL log: one chain, no gaps, no forks."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from firewall.approvals.store import SqlApprovalStore
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_store
from tests.audit.gate_worker import crash_inside_the_tool, run_guarded_calls, write_policy


def create_stores(url: str, key_file: Path) -> None:
    """Create the tables once, before the workers start (they would race to create them)."""
    SqlAuditLog(url, keys=WriterKeys.from_file(key_file)).close()
    SqlApprovalStore(url).close()


def run_workers(url: str, key_file: Path, policy_dir: Path, workers: int, calls: int) -> None:
    create_stores(url, key_file)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=run_guarded_calls, args=(url, str(key_file), str(policy_dir), worker, calls)
        )
        for worker in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join()
    assert [process.exitcode for process in processes] == [0] * workers


def check_one_chain(url: str, trust: Trust, workers: int, calls: int) -> None:
    total = 2 * workers * calls  # a decision and an outcome per call
    report = verify_store(url, trust)
    assert report.valid, report.findings
    assert (report.records_checked, report.first_seq, report.last_seq) == (total, 1, total)
    assert (report.signed_through, report.in_doubt) == (total, ())
    with SqlAuditLog(url, create=False) as log:
        order = [(record.call_id, record.event) for record in log.records()]
    for worker in range(workers):
        mine = [call_id for call_id, event in order if (call_id or "").startswith(f"w{worker}_")]
        expected = [f"w{worker}_{n}" for n in range(calls) for _ in ("decision", "outcome")]
        assert mine == expected


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(900)  # about 100 s on an idle 2-core box; slower when it is shared
def test_8_processes_guarding_2000_calls_each_build_one_chain(
    pg_url: str, key_files: tuple[Path, Path], trust: Trust, tmp_path: Path
) -> None:
    run_workers(pg_url, key_files[0], write_policy(tmp_path / "policy"), workers=8, calls=2000)
    check_one_chain(pg_url, trust, workers=8, calls=2000)


@pytest.mark.slow
def test_processes_sharing_a_sqlite_log_build_one_chain(
    sqlite_url: str, key_files: tuple[Path, Path], trust: Trust, tmp_path: Path
) -> None:
    run_workers(sqlite_url, key_files[0], write_policy(tmp_path / "policy"), workers=3, calls=100)
    check_one_chain(sqlite_url, trust, workers=3, calls=100)


@pytest.mark.slow
def test_a_crash_between_decision_and_outcome_leaves_the_call_in_doubt(
    audit_url: str, key_files: tuple[Path, Path], trust: Trust, tmp_path: Path
) -> None:
    create_stores(audit_url, key_files[0])
    process = multiprocessing.get_context("spawn").Process(
        target=crash_inside_the_tool,
        args=(audit_url, str(key_files[0]), str(write_policy(tmp_path / "policy"))),
    )
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 3
    report = verify_store(audit_url, trust)
    assert (report.status, report.records_checked) == ("valid", 1)
    assert [(call.call_id, call.seq, call.tool) for call in report.in_doubt] == [
        ("call_crashed", 1, "crm_lookup")
    ]
