"""GDPR erasure: the subject's values become unreadable, the chain still verifies."""

from __future__ import annotations

from collections.abc import Callable

from firewall.audit.findings import ExitStatus, FindingKind
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_store
from tests.audit.tampering import ALICE, CAROL, EVENTS, rows

OpenLog = Callable[..., SqlAuditLog]


def references(log: SqlAuditLog, customer: str) -> list[str]:
    """Every personal-data reference in the records of one customer's calls."""
    found = []
    for record in log.records():
        if record.principal is None or not log.reveal(record.principal["on_behalf_of"])[0]:
            continue
        if log.reveal(record.principal["on_behalf_of"])[1] != customer:
            continue
        found.append(record.principal["on_behalf_of"])
        found += [str(record.args[name]) for name in record.personal_args if record.args]
    return found


def test_after_erasure_the_subjects_values_are_unreadable_and_others_intact(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    log = open_log()
    for event in EVENTS:
        log.append(event)
    alice_refs, carol_refs = (
        references(log, ALICE["on_behalf_of"]),
        references(log, CAROL["on_behalf_of"]),
    )
    assert alice_refs
    assert carol_refs
    erasure = log.erase(ALICE["on_behalf_of"])
    assert erasure is not None
    assert erasure.values_deleted == 2
    assert {log.reveal(ref) for ref in alice_refs} == {(False, None)}
    assert {log.reveal(ref)[1] for ref in carol_refs} == {CAROL["on_behalf_of"], "jane@example.com"}
    report = verify_store(audit_url, trust)
    assert (report.status, report.exit_status, report.erased_subjects) == (
        "valid",
        ExitStatus.VALID,
        1,
    )
    [erased] = [finding for finding in report.findings if finding.kind is FindingKind.ERASED]
    assert (erased.seq, erased.found, erased.severity) == (
        len(EVENTS) + 1,
        erasure.pseudonym,
        "info",
    )


def test_the_erasure_record_names_only_the_pseudonym(audit_url: str, open_log: OpenLog) -> None:
    log = open_log()
    log.append(EVENTS[0])
    erasure = log.erase(ALICE["on_behalf_of"])
    assert erasure is not None
    assert (erasure.record.event, erasure.record.details["subject"]) == (
        "subject_erased",
        erasure.pseudonym,
    )
    assert all("c-100" not in body for _, _, body in rows(audit_url))


def test_erasing_an_unknown_subject_changes_nothing(audit_url: str, open_log: OpenLog) -> None:
    log = open_log()
    log.append(EVENTS[0])
    assert log.erase("customer:nobody") is None
    assert [record.seq for record in log.records()] == [1]


def test_a_subject_seen_again_after_erasure_gets_a_new_key(open_log: OpenLog) -> None:
    log = open_log()
    before = log.append(EVENTS[0])
    log.erase(ALICE["on_behalf_of"])
    after = log.append(EVENTS[4])
    assert before.principal is not None
    assert after.principal is not None
    assert (
        before.principal["on_behalf_of"].split(":")[1]
        != after.principal["on_behalf_of"].split(":")[1]
    )
    assert log.reveal(after.principal["on_behalf_of"]) == (True, ALICE["on_behalf_of"])
    assert log.reveal(before.principal["on_behalf_of"]) == (False, None)
