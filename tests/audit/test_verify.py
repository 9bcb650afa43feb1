"""The verifier's report: range, signatures, trust, freshness, in-doubt calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firewall.audit.events import AuditEvent
from firewall.audit.findings import ExitStatus, FindingKind
from firewall.audit.keys import SigningKey
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import NO_KEY, Trust, verify_store
from tests.audit.tampering import LAST, build_log

OpenLog = Callable[..., SqlAuditLog]


def test_the_report_summarises_what_was_checked(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    hashes = build_log(audit_url, open_log())
    report = verify_store(audit_url, trust)
    assert (report.first_seq, report.last_seq, report.head) == (1, LAST, (LAST, hashes[-1]))
    assert (report.signed_through, report.checkpoints_checked) == (LAST, 2)
    assert report.origin is not None
    assert report.origin.startswith("agent-firewall/audit/")
    assert report.trusted_keys == tuple(key.key_id for key in trust.keys)
    assert report.summary().startswith(f"OK: {LAST} records (seq 1..{LAST}) verified")


def test_an_empty_log_verifies(audit_url: str, open_log: OpenLog, trust: Trust) -> None:
    open_log()
    report = verify_store(audit_url, trust)
    assert (report.status, report.records_checked, report.summary()) == (
        "valid",
        0,
        "OK: 0 records verified (empty log)",
    )


def test_without_a_public_key_the_verdict_is_inconclusive(
    audit_url: str, open_log: OpenLog
) -> None:
    build_log(audit_url, open_log())
    report = verify_store(audit_url, Trust())
    assert (report.status, report.exit_status, report.error) == (
        "inconclusive",
        ExitStatus.INCONCLUSIVE,
        NO_KEY,
    )
    assert report.records_checked == LAST


def test_a_key_that_never_signed_this_log_is_tampering(
    audit_url: str, open_log: OpenLog, tmp_path: Path
) -> None:
    build_log(audit_url, open_log())
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(SigningKey.generate("stranger").verifier.text())
    report = verify_store(audit_url, Trust.from_files([stranger]))
    assert report.status == "tampered"
    assert report.first_finding is not None
    assert report.first_finding.kind is FindingKind.UNKNOWN_KEY


def test_an_unreadable_log_is_inconclusive(tmp_path: Path, trust: Trust) -> None:
    report = verify_store(f"sqlite:///{tmp_path / 'missing.db'}", trust)
    assert report.status == "inconclusive"
    assert report.error is not None
    assert "does not exist" in report.error


def test_a_trusted_checkpoint_not_signed_by_the_given_key_is_inconclusive(
    audit_url: str, open_log: OpenLog, tmp_path: Path, key_files: tuple[Path, Path]
) -> None:
    build_log(audit_url, open_log())
    forged = tmp_path / "forged.checkpoint"
    forged.write_text("agent-firewall/audit/x\n1\n" + "A" * 43 + "=\n\n\u2014 a AAAA\n")
    report = verify_store(audit_url, Trust.from_files([key_files[1]], [forged]))
    assert report.status == "inconclusive"
    assert report.error is not None
    assert "trusted checkpoint forged.checkpoint" in report.error


def test_a_log_with_no_recent_signed_head_is_stale(
    audit_url: str, open_log: OpenLog, key_files: tuple[Path, Path]
) -> None:
    build_log(audit_url, open_log())
    later = datetime.now(UTC) + timedelta(hours=2)
    fresh = Trust(keys=Trust.from_files([key_files[1]]).keys, max_age_s=86400, now=later)
    stale = Trust(keys=fresh.keys, max_age_s=3600, now=later)
    assert verify_store(audit_url, fresh).valid
    report = verify_store(audit_url, stale)
    assert (report.status, report.first_bad_seq) == ("inconclusive", LAST + 1)
    assert report.first_finding is not None
    assert report.first_finding.kind is FindingKind.STALE_HEAD


def test_allowed_calls_without_an_outcome_are_listed_in_doubt(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    log = open_log()
    decided = log.append(
        AuditEvent(event="decision", call_id="call_9", tool="refund", outcome="allow")
    )
    log.append(AuditEvent(event="decision", call_id="call_10", tool="pay", outcome="deny"))
    report = verify_store(audit_url, trust)
    assert report.valid
    assert [(c.call_id, c.seq, c.tool) for c in report.in_doubt] == [
        ("call_9", decided.seq, "refund")
    ]
