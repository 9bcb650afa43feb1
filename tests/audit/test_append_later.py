"""Outcome records off the caller's path: sealed soon, in order, and read back at once."""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from firewall.audit.engine import make_engine
from firewall.audit.events import AuditEvent
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_store
from firewall.errors import AuditError
from tests.audit.gate_worker import crash_after_the_tool, crash_inside_the_tool, write_policy

OpenLog = Callable[..., SqlAuditLog]
HOUR_S = 3600.0
WAIT_S = 10.0


def outcome(call_id: str) -> AuditEvent:
    return AuditEvent(event="outcome", call_id=call_id, outcome="ok")


def decision(call_id: str) -> AuditEvent:
    return AuditEvent(event="decision", call_id=call_id, outcome="allow")


def test_a_deferred_record_is_read_back_by_its_own_log_at_once(open_log: OpenLog) -> None:
    log = open_log(outcome_flush_s=HOUR_S)  # only a read can have sealed it
    log.append(decision("c1"))
    log.append_later(outcome("c1"))
    assert [(r.event, r.call_id) for r in log.records()] == [("decision", "c1"), ("outcome", "c1")]


def test_the_next_append_carries_earlier_deferred_records_before_it(open_log: OpenLog) -> None:
    log = open_log(outcome_flush_s=HOUR_S)
    log.append(decision("c1"))
    log.append_later(outcome("c1"))
    second = log.append(decision("c2"))
    assert second.seq == 3
    assert log.records_for_call("c1")[-1].seq == 2


def test_close_seals_deferred_records_for_other_readers(
    audit_url: str, writer_keys: WriterKeys, trust: Trust
) -> None:
    log = SqlAuditLog(audit_url, keys=writer_keys, outcome_flush_s=HOUR_S)
    log.append(decision("c1"))
    log.append_later(outcome("c1"))
    log.close()
    report = verify_store(audit_url, trust)
    assert (report.status, report.records_checked, report.in_doubt) == ("valid", 2, ())


def test_the_flusher_seals_without_any_reader(
    audit_url: str, writer_keys: WriterKeys, trust: Trust
) -> None:
    with SqlAuditLog(audit_url, keys=writer_keys, outcome_flush_s=0.0) as log:
        log.append(decision("c1"))
        log.append_later(outcome("c1"))
        deadline = time.monotonic() + WAIT_S
        while verify_store(audit_url, trust).in_doubt and time.monotonic() < deadline:
            time.sleep(0.01)
        assert verify_store(audit_url, trust).in_doubt == ()


def test_an_event_with_no_json_form_is_refused_at_once(open_log: OpenLog) -> None:
    log = open_log()
    with pytest.raises(AuditError, match="canonical"):
        log.append_later(AuditEvent(event="outcome", details={"x": math.nan}))


def test_a_read_only_log_refuses_to_defer(audit_url: str, open_log: OpenLog) -> None:
    open_log().close()
    with SqlAuditLog(audit_url, create=False) as reader, pytest.raises(AuditError):
        reader.append_later(outcome("c1"))


@pytest.mark.parametrize(("setting", "pragma"), [("full", 2), ("normal", 1)])
def test_sqlite_synchronous_is_set_on_every_connection(
    sqlite_url: str, setting: str, pragma: int
) -> None:
    engine = make_engine(sqlite_url, read_only=False, sqlite_synchronous=setting)  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
    finally:
        engine.dispose()


def test_an_unknown_sqlite_synchronous_is_refused(sqlite_url: str) -> None:
    with pytest.raises(AuditError, match="sqlite_synchronous"):
        make_engine(sqlite_url, read_only=False, sqlite_synchronous="off")  # type: ignore[arg-type]


CRASHES = [
    pytest.param(crash, synchronous, id=f"{crash.__name__}-{synchronous}")
    for crash in (crash_inside_the_tool, crash_after_the_tool)
    for synchronous in ("full", "normal")
]


@pytest.mark.parametrize(("crash", "sqlite_synchronous"), CRASHES)
def test_a_process_crash_keeps_the_decision_and_leaves_the_call_in_doubt(
    crash: Callable[..., None],
    sqlite_synchronous: str,
    sqlite_url: str,
    key_files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    """In both SQLite modes a committed decision survives the process dying (not power loss)."""
    SqlAuditLog(sqlite_url, keys=WriterKeys.from_file(key_files[0])).close()
    policy_dir = str(write_policy(tmp_path / "policy"))
    process = multiprocessing.get_context("spawn").Process(
        target=crash, args=(sqlite_url, str(key_files[0]), policy_dir, sqlite_synchronous)
    )
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 3
    report = verify_store(sqlite_url, Trust.from_files([key_files[1]]))
    assert (report.status, report.records_checked) == ("valid", 1)
    assert [(call.call_id, call.seq) for call in report.in_doubt] == [("call_crashed", 1)]
