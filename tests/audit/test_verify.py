"""The verifier: verdicts, the findings cap, in-doubt calls, inconclusive logs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from firewall.audit.events import AuditEvent
from firewall.audit.findings import ExitStatus, FindingKind
from firewall.audit.records import GENESIS_HASH, AuditRecord, seal
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import MAX_FINDINGS, verify_chain, verify_store
from tests.audit.tampering import MIDDLE, build_log, update_row

MOMENT = datetime(2025, 1, 1, tzinfo=UTC)


def chain(events: list[AuditEvent]) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for seq, event in enumerate(events, start=1):
        prev_hash = records[-1].hash if records else GENESIS_HASH
        records.append(seal(event, seq, prev_hash, MOMENT))
    return records


def decisions(count: int) -> list[AuditEvent]:
    return [AuditEvent(event="decision", call_id=f"call_{n}", outcome="deny") for n in range(count)]


def test_an_empty_log_without_head_is_valid() -> None:
    report = verify_chain([], None)
    assert (report.valid, report.records_checked, report.first_seq) == (True, 0, None)


def test_a_sealed_chain_matching_its_head_is_valid() -> None:
    records = chain(decisions(3))
    report = verify_chain(records, (3, records[-1].hash))
    assert (report.valid, report.first_bad_seq, report.findings_total) == (True, None, 0)
    assert (report.first_seq, report.last_seq, report.exit_status) == (1, 3, ExitStatus.VALID)


def test_verification_consumes_records_lazily() -> None:
    records = chain(decisions(5))
    consumed: list[int] = []

    def stream() -> Iterator[AuditRecord]:
        for record in records:
            consumed.append(record.seq)
            yield record

    assert verify_chain(stream(), (5, records[-1].hash)).valid
    assert consumed == [1, 2, 3, 4, 5]


def test_a_record_repeated_is_a_sequence_gap_at_its_seq() -> None:
    records = chain(decisions(3))
    report = verify_chain([records[0], records[1], records[1], records[2]], (3, records[2].hash))
    gap = next(f for f in report.findings if f.kind is FindingKind.SEQUENCE_GAP)
    assert (gap.seq, gap.expected, gap.found) == (2, "3", "2")
    assert report.first_bad_seq == 2


def test_a_hash_mismatch_reports_recomputed_and_stored_hashes() -> None:
    records = chain(decisions(2))
    forged = records[1].model_copy(update={"tool": "wire_money"})
    report = verify_chain([records[0], forged], (2, forged.hash))
    (finding,) = report.findings
    assert finding.kind is FindingKind.HASH_MISMATCH
    assert finding.found == forged.hash
    assert finding.expected == seal(forged, 2, records[0].hash, MOMENT).hash


def test_findings_are_capped_but_all_counted() -> None:
    records = [r.model_copy(update={"hash": "sha256:" + "f" * 64}) for r in chain(decisions(150))]
    report = verify_chain(records, (150, records[-1].hash))
    assert len(report.findings) == MAX_FINDINGS
    assert report.findings_total > MAX_FINDINGS
    assert (report.first_bad_seq, report.first_finding) == (1, report.findings[0])


def test_allowed_calls_without_an_outcome_are_in_doubt_but_valid() -> None:
    records = chain(
        [
            AuditEvent(event="decision", call_id="call_a", tool="refund", outcome="allow"),
            AuditEvent(event="decision", call_id="call_b", tool="refund", outcome="deny"),
            AuditEvent(event="decision", call_id="call_c", tool="lookup", outcome="allow"),
            AuditEvent(event="outcome", call_id="call_c", tool="lookup", outcome="ok"),
            AuditEvent(event="decision", call_id="call_d", tool="lookup", outcome="allow"),
        ]
    )
    report = verify_chain(records, (5, records[-1].hash))
    assert report.valid
    assert [(c.call_id, c.seq, c.tool) for c in report.in_doubt] == [
        ("call_a", 1, "refund"),
        ("call_d", 5, "lookup"),
    ]


def test_the_report_serialises_to_json_with_its_verdict() -> None:
    records = chain(decisions(2))
    report = verify_chain(records, (3, "sha256:" + "0" * 64))
    data = report.model_dump(mode="json")
    assert (data["valid"], data["status"], data["first_bad_seq"]) == (False, "tampered", 3)
    assert data["findings"][0]["kind"] == "truncation"


def test_a_missing_sqlite_file_is_inconclusive(tmp_path: Path) -> None:
    report = verify_store(f"sqlite:///{tmp_path / 'nope.db'}")
    assert (report.status, report.exit_status) == ("inconclusive", ExitStatus.INCONCLUSIVE)
    assert report.error is not None
    assert "does not exist" in report.error


def test_a_database_without_audit_tables_is_inconclusive(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (id INTEGER)"))
    engine.dispose()
    report = verify_store(url)
    assert report.status == "inconclusive"
    assert "audit tables missing" in (report.error or "")


def test_an_unreachable_database_is_inconclusive() -> None:
    report = verify_store("postgresql+psycopg://postgres@127.0.0.1:1/test")
    assert report.exit_status is ExitStatus.INCONCLUSIVE
    assert "could not open its tables" in (report.error or "")


def test_an_unparseable_json_column_is_inconclusive(sqlite_url: str) -> None:
    build_log(sqlite_url)
    update_row(sqlite_url, MIDDLE, {"details": text("'{not json'")})
    report = verify_store(sqlite_url)
    assert report.status == "inconclusive"
    assert "unreadable" in (report.error or "")


def test_a_value_sealing_would_refuse_is_a_hash_mismatch(sqlite_url: str) -> None:
    build_log(sqlite_url)
    update_row(sqlite_url, MIDDLE, {"details": text("'{\"amount\": NaN}'")})
    report = verify_store(sqlite_url)
    assert (report.status, report.first_bad_seq) == ("tampered", MIDDLE)
    assert report.first_finding is not None
    assert report.first_finding.kind is FindingKind.HASH_MISMATCH


def test_an_unreadable_record_after_tampering_is_still_tampered(sqlite_url: str) -> None:
    build_log(sqlite_url)
    update_row(sqlite_url, 2, {"tool": "forged"})
    update_row(sqlite_url, MIDDLE, {"v": text("'one'")})
    report = verify_store(sqlite_url)
    assert (report.status, report.first_bad_seq, report.records_checked) == ("tampered", 2, 4)
    assert "seq 5 is unreadable" in (report.error or "")


def test_verifying_writes_nothing(sqlite_url: str) -> None:
    build_log(sqlite_url)
    with SqlAuditLog(sqlite_url) as log:
        head_before = log.head()
    assert verify_store(sqlite_url).valid
    with SqlAuditLog(sqlite_url) as log:
        assert log.head() == head_before
