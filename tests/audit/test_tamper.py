"""The mutation suite: every tampering by someone with database access only is found.

Runs on SQLite and on the real local PostgreSQL. The auditor holds the writer's public
key (the ``trust`` fixture), and for truncation a checkpoint kept from before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firewall.audit.events import AuditEvent
from firewall.audit.findings import ExitStatus, FindingKind, VerifyReport
from firewall.audit.keys import SigningKey
from firewall.audit.records import seal_body
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_store
from tests.audit.tampering import (
    EVENTS,
    LAST,
    MIDDLE,
    append_forged,
    body_of,
    build_log,
    corrupt_checkpoint_signatures,
    corrupt_head_signature,
    delete_rows,
    edit_entry,
    recompute_chain_from,
    resign_everything,
    roll_head_back_to,
    set_row,
    swap_records,
)

OpenLog = Callable[..., SqlAuditLog]

# A new value for every field of a record's entry.
ENTRY_EDITS: dict[str, Any] = {
    "event": "outcome",
    "call_id": "call_forged",
    "decision_id": "dec_forged",
    "principal": {"agent_id": "mallory", "tenant": "acme"},
    "tool": "wire_money",
    "outcome": "deny",
    "code": "approved",
    "reasons": ["approved by alice"],
    "policy_revision": "sha256:" + "00" * 32,
    "args": {"order_id": "o-call_4", "amount": 4000},
    "personal_args": [],
    "details": {"stage": "approval"},
}


def kinds_at(report: VerifyReport) -> set[tuple[FindingKind, int]]:
    return {(finding.kind, finding.seq) for finding in report.findings}


def assert_tampered(report: VerifyReport, kind: FindingKind, first_bad_seq: int) -> None:
    assert (report.status, report.exit_status) == ("tampered", ExitStatus.TAMPERED), report
    assert report.first_bad_seq == first_bad_seq
    assert (kind, first_bad_seq) in kinds_at(report)


@pytest.fixture
def built(audit_url: str, open_log: OpenLog) -> str:
    """The nine-record log, written and closed."""
    with open_log() as log:
        build_log(audit_url, log)
    return audit_url


def test_the_untouched_log_verifies_with_exit_0(built: str, trust: Trust) -> None:
    report = verify_store(built, trust)
    assert (report.status, report.exit_status, report.findings) == ("valid", ExitStatus.VALID, ())
    assert (report.records_checked, report.signed_through) == (LAST, LAST)


def test_entry_edits_cover_every_field() -> None:
    assert set(ENTRY_EDITS) == set(AuditEvent.model_fields)


@pytest.mark.parametrize("field", sorted(ENTRY_EDITS))
def test_changing_one_field_of_one_record_is_a_hash_mismatch(
    built: str, trust: Trust, field: str
) -> None:
    edit_entry(built, MIDDLE, rehash=False, **{field: ENTRY_EDITS[field]})
    assert_tampered(verify_store(built, trust), FindingKind.HASH_MISMATCH, MIDDLE)


@pytest.mark.parametrize("field", ["tool", "args", "outcome"])
def test_a_changed_record_with_its_hash_updated_breaks_the_link_to_it(
    built: str, trust: Trust, field: str
) -> None:
    edit_entry(built, MIDDLE, rehash=True, **{field: ENTRY_EDITS[field]})
    report = verify_store(built, trust)
    assert_tampered(report, FindingKind.BROKEN_LINK, MIDDLE)
    assert FindingKind.CHECKPOINT_INCONSISTENCY in {finding.kind for finding in report.findings}


@pytest.mark.parametrize(
    ("chain_field", "value", "kind"),
    [
        ("time", "2020-01-01T00:00:00.000000+00:00", FindingKind.HASH_MISMATCH),
        ("prev_hash", "sha256:" + "1" * 64, FindingKind.HASH_MISMATCH),
        ("seq", 1000, FindingKind.SEQUENCE_GAP),
    ],
)
def test_changing_a_chain_field_is_found(
    built: str, trust: Trust, chain_field: str, value: object, kind: FindingKind
) -> None:
    body = body_of(built, MIDDLE) | {chain_field: value}
    entry = json.dumps(body["entry"], separators=(",", ":"), sort_keys=True)
    set_row(built, MIDDLE, body=seal_body(entry, body["seq"], body["prev_hash"], body["time"]))
    assert_tampered(verify_store(built, trust), kind, MIDDLE)


def test_deleting_a_middle_record_is_a_sequence_gap(built: str, trust: Trust) -> None:
    delete_rows(built, MIDDLE)
    assert_tampered(verify_store(built, trust), FindingKind.SEQUENCE_GAP, MIDDLE)


def test_swapping_two_records_is_found_at_the_first(built: str, trust: Trust) -> None:
    swap_records(built, 3, 7)
    assert_tampered(verify_store(built, trust), FindingKind.SEQUENCE_GAP, 3)


def test_deleting_the_tail_is_a_truncation_below_the_head_it_signed(
    built: str, trust: Trust
) -> None:
    delete_rows(built, LAST - 1, LAST)
    assert_tampered(verify_store(built, trust), FindingKind.TRUNCATION, LAST - 1)


def test_deleting_the_tail_and_rolling_the_head_back_is_found_with_a_kept_checkpoint(
    audit_url: str, open_log: OpenLog, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    with open_log() as log:
        for event in EVENTS[:-2]:
            log.append(event)
        with log.snapshot() as view:
            older_head = view.head_note()  # the attacker saved this signed head
        for event in EVENTS[-2:]:
            log.append(event)
        with log.snapshot() as view:
            kept = tmp_path / "kept.checkpoint"  # the auditor kept this one, off the box
            kept.write_text(str(view.head_note()), encoding="utf-8")
    assert older_head is not None
    delete_rows(audit_url, LAST - 1, LAST)
    roll_head_back_to(audit_url, older_head)
    assert verify_store(audit_url, Trust.from_files([key_files[1]])).valid
    report = verify_store(audit_url, Trust.from_files([key_files[1]], [kept]))
    assert_tampered(report, FindingKind.TRUNCATION, LAST - 1)


def test_a_forged_record_appended_after_the_signed_head_is_an_unsigned_tail(
    built: str, trust: Trust
) -> None:
    append_forged(built, AuditEvent(event="outcome", call_id="call_2", outcome="ok"))
    assert_tampered(verify_store(built, trust), FindingKind.UNSIGNED_TAIL, LAST + 1)


def test_a_replaced_head_signature_is_a_bad_signature(built: str, trust: Trust) -> None:
    corrupt_head_signature(built)
    report = verify_store(built, trust)
    assert_tampered(report, FindingKind.BAD_SIGNATURE, LAST)


def test_a_replaced_checkpoint_signature_is_a_bad_signature(built: str, trust: Trust) -> None:
    corrupt_checkpoint_signatures(built)
    report = verify_store(built, trust)
    assert report.status == "tampered"
    assert FindingKind.BAD_SIGNATURE in {finding.kind for finding in report.findings}


def test_a_chain_recomputed_without_the_key_contradicts_the_signed_head(
    built: str, trust: Trust
) -> None:
    recompute_chain_from(built, 1, tool="wire_money")
    report = verify_store(built, trust)
    assert_tampered(report, FindingKind.CHECKPOINT_INCONSISTENCY, 1)
    assert not {f.kind for f in report.findings} & {
        FindingKind.HASH_MISMATCH,
        FindingKind.BROKEN_LINK,
    }


def test_a_chain_recomputed_and_re_signed_with_another_key_is_found(
    built: str, trust: Trust
) -> None:
    recompute_chain_from(built, MIDDLE, outcome="deny")
    resign_everything(built, SigningKey.generate("test-writer"))
    assert_tampered(verify_store(built, trust), FindingKind.UNKNOWN_KEY, 1)


def test_a_re_signed_chain_contradicts_a_kept_checkpoint(
    built: str, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    with SqlAuditLog(built, create=False) as log, log.snapshot() as view:
        kept = tmp_path / "kept.checkpoint"
        kept.write_text(str(view.head_note()), encoding="utf-8")
    recompute_chain_from(built, MIDDLE, outcome="deny")
    resign_everything(built, SigningKey.generate("mallory"))
    report = verify_store(built, Trust.from_files([key_files[1]], [kept]))
    assert report.status == "tampered"
    assert FindingKind.CHECKPOINT_INCONSISTENCY in {finding.kind for finding in report.findings}
