"""Every kind of tampering with a stored log is found, at the right sequence number."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from firewall.audit.events import AuditEvent
from firewall.audit.findings import ExitStatus, FindingKind, VerifyReport
from firewall.audit.records import seal
from firewall.audit.schema import head_table, records_table
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import verify_store
from tests.audit.tampering import (
    LAST,
    MIDDLE,
    build_log,
    delete_head,
    delete_rows,
    execute,
    swap_contents,
    swap_seqs,
    update_row,
)

OTHER_HASH = "sha256:" + "1" * 64

# For each column of the middle record: a new value, and the finding that must report it.
COLUMN_TAMPERING: dict[str, tuple[Any, FindingKind]] = {
    "v": (2, FindingKind.UNSUPPORTED_VERSION),
    "seq": (1000, FindingKind.SEQUENCE_GAP),
    "prev_hash": (OTHER_HASH, FindingKind.BROKEN_LINK),
    "time": ("2020-01-01T00:00:00.000000+00:00", FindingKind.HASH_MISMATCH),
    "event": ("outcome", FindingKind.HASH_MISMATCH),
    "call_id": ("call_forged", FindingKind.HASH_MISMATCH),
    "principal": ({"agent_id": "mallory", "tenant": "acme"}, FindingKind.HASH_MISMATCH),
    "tool": ("wire_money", FindingKind.HASH_MISMATCH),
    "outcome": ("deny", FindingKind.HASH_MISMATCH),
    "code": ("forged", FindingKind.HASH_MISMATCH),
    "reasons": (["approved by alice"], FindingKind.HASH_MISMATCH),
    "policy_revision": (OTHER_HASH, FindingKind.HASH_MISMATCH),
    "args_digest": (OTHER_HASH, FindingKind.HASH_MISMATCH),
    "details": ({"amount": 1250.0, "ratio": 0.1, "tags": ["a", "b"]}, FindingKind.HASH_MISMATCH),
    "hash": (OTHER_HASH, FindingKind.HASH_MISMATCH),
}


def assert_tampered(report: VerifyReport, kind: FindingKind, first_bad_seq: int) -> None:
    assert (report.status, report.exit_status) == ("tampered", ExitStatus.TAMPERED)
    assert report.first_bad_seq == first_bad_seq
    assert (kind, first_bad_seq) in {(finding.kind, finding.seq) for finding in report.findings}


def test_an_untouched_log_is_valid(audit_url: str) -> None:
    records = build_log(audit_url)
    report = verify_store(audit_url)
    assert (report.status, report.exit_status, report.findings) == ("valid", ExitStatus.VALID, ())
    assert (report.records_checked, report.first_seq, report.last_seq) == (LAST, 1, LAST)
    assert report.head == (LAST, records[-1].hash)


def test_tampering_table_covers_every_column() -> None:
    assert set(COLUMN_TAMPERING) == set(records_table.c.keys())


@pytest.mark.parametrize("column", sorted(COLUMN_TAMPERING))
def test_changing_any_column_of_a_middle_record_is_found(audit_url: str, column: str) -> None:
    build_log(audit_url)
    value, kind = COLUMN_TAMPERING[column]
    update_row(audit_url, MIDDLE, {column: value})
    assert_tampered(verify_store(audit_url), kind, MIDDLE)


def test_a_changed_hash_also_breaks_the_next_link(audit_url: str) -> None:
    build_log(audit_url)
    update_row(audit_url, MIDDLE, {"hash": OTHER_HASH})
    report = verify_store(audit_url)
    assert (FindingKind.BROKEN_LINK, MIDDLE + 1) in {(f.kind, f.seq) for f in report.findings}


def test_a_rewritten_record_with_a_recomputed_hash_breaks_the_next_link(audit_url: str) -> None:
    records = build_log(audit_url)
    denial = AuditEvent(event="decision", call_id="call_4", outcome="deny")
    forged = seal(denial, MIDDLE, records[MIDDLE - 2].hash, datetime.now(UTC))
    update_row(audit_url, MIDDLE, forged.model_dump(mode="json"))
    assert_tampered(verify_store(audit_url), FindingKind.BROKEN_LINK, MIDDLE + 1)


def test_deleting_a_middle_record_is_a_sequence_gap(audit_url: str) -> None:
    build_log(audit_url)
    delete_rows(audit_url, MIDDLE)
    report = verify_store(audit_url)
    assert_tampered(report, FindingKind.SEQUENCE_GAP, MIDDLE)
    assert (FindingKind.BROKEN_LINK, MIDDLE + 1) in {(f.kind, f.seq) for f in report.findings}


def test_deleting_the_first_record_is_found(audit_url: str) -> None:
    build_log(audit_url)
    delete_rows(audit_url, 1)
    report = verify_store(audit_url)
    assert_tampered(report, FindingKind.SEQUENCE_GAP, 1)
    assert (FindingKind.BROKEN_LINK, 2) in {(f.kind, f.seq) for f in report.findings}


def test_deleting_the_last_record_is_a_truncation(audit_url: str) -> None:
    build_log(audit_url)
    delete_rows(audit_url, LAST)
    report = verify_store(audit_url)
    assert_tampered(report, FindingKind.TRUNCATION, LAST)
    assert report.findings_total == 1


def test_deleting_every_record_is_a_truncation(audit_url: str) -> None:
    build_log(audit_url)
    delete_rows(audit_url, *range(1, LAST + 1))
    assert_tampered(verify_store(audit_url), FindingKind.TRUNCATION, 1)


def test_a_head_that_disagrees_with_the_last_record_is_a_truncation(audit_url: str) -> None:
    build_log(audit_url)
    execute(audit_url, update(head_table).values(hash=OTHER_HASH))
    assert_tampered(verify_store(audit_url), FindingKind.TRUNCATION, LAST)


def test_deleting_the_head_row_is_a_head_mismatch(audit_url: str) -> None:
    build_log(audit_url)
    delete_head(audit_url)
    assert_tampered(verify_store(audit_url), FindingKind.HEAD_MISMATCH, 1)


def test_a_record_appended_behind_the_heads_back_is_a_head_mismatch(audit_url: str) -> None:
    records = build_log(audit_url)
    execute(audit_url, update(head_table).values(seq=LAST - 1, hash=records[-2].hash))
    assert_tampered(verify_store(audit_url), FindingKind.HEAD_MISMATCH, LAST)


def test_swapping_the_contents_of_two_records_is_found(audit_url: str) -> None:
    build_log(audit_url)
    swap_contents(audit_url, 4, 6)
    report = verify_store(audit_url)
    assert_tampered(report, FindingKind.HASH_MISMATCH, 4)
    assert (FindingKind.BROKEN_LINK, 4) in {(f.kind, f.seq) for f in report.findings}


def test_swapping_the_seq_of_two_records_is_found(audit_url: str) -> None:
    build_log(audit_url)
    swap_seqs(audit_url, 4, 6)
    assert_tampered(verify_store(audit_url), FindingKind.HASH_MISMATCH, 4)


def test_the_store_can_still_be_verified_after_more_appends(audit_url: str) -> None:
    build_log(audit_url)
    with SqlAuditLog(audit_url) as log:
        log.append_many([AuditEvent(event="decision", details={"i": i}) for i in range(3)])
    report = verify_store(audit_url)
    assert report.valid
    assert report.last_seq == LAST + 3
