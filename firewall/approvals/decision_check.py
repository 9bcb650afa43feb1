"""What ``firewall audit verify`` checks of approvals: every decision is on the chain.

Approvers journal their decisions (see :mod:`firewall.approvals.journal`); the writer
adopts them. Read beside the chain, the approval store must agree with it:

- ``unadopted_decision`` (inconclusive): a journaled decision not on the chain yet (no
  writer ran since; ``firewall audit checkpoint`` adopts it).
- ``unrecorded_decision`` (tampered): a hold the store shows approved or denied by someone
  whom no record and no journal entry shows deciding it (the store was changed outside
  the firewall), or a journal entry marked adopted that the chain lacks.
- ``journal_mismatch`` (tampered): a journal entry that tells a decision differently from
  the chain record that adopted it (rewritten after adoption).

The store is read before the chain, so a decision adopted meanwhile is not misreported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect, select

from firewall.approvals.journal import COMPARED_DETAILS, ENTRY_KEY, JournalEntry, journal_table
from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.chain import Findings
from firewall.audit.findings import FindingKind, VerifyReport
from firewall.audit.records import AuditRecord
from firewall.audit.store import SqlAuditLog
from firewall.errors import FirewallError

Decision = tuple[str, str, str]
"""(hold id, approver, approve | deny)."""


def _kind_of(outcome: str | None) -> str | None:
    if outcome in {"approval_recorded", "approved"}:
        return "approve"
    return "deny" if outcome == "denied" else None


def _decision(event: str, outcome: str | None, details: dict[str, Any]) -> Decision | None:
    kind = _kind_of(outcome)
    approver = details.get("approver")
    if event != "hold_decided" or kind is None or not isinstance(approver, str):
        return None
    return (str(details.get("hold_id")), approver, kind)


def _store_decisions(record: HoldRecord) -> list[Decision]:
    decisions = [(record.hold_id, approver, "approve") for approver in record.approvals]
    if record.state is HoldState.DENIED:
        decisions += [(record.hold_id, who, "deny") for who in record.decided_by]
    return decisions


def _read_store(url: str) -> tuple[list[HoldRecord], list[JournalEntry]] | None:
    """The holds and the journal at ``url``; None if there is no approval store there."""
    try:
        store = SqlApprovalStore(url, create=False)
    except FirewallError:
        return None
    with store:
        holds = store.list()
        with store.connection() as conn:
            if not inspect(conn).has_table(journal_table.name):
                return holds, []
            rows = conn.execute(select(journal_table).order_by(journal_table.c.entry_id)).all()
    entries = [
        JournalEntry(r.entry_id, r.journaled_at, dict(r.event), r.adopted_at) for r in rows
    ]
    return holds, entries


def _same(entry: JournalEntry, record: AuditRecord) -> bool:
    told = entry.event
    details = told.get("details") or {}
    return (
        (told.get("event"), told.get("outcome"), told.get("code"), told.get("call_id"))
        == (record.event, record.outcome, record.code, record.call_id)
    ) and all(details.get(key) == record.details.get(key) for key in COMPARED_DETAILS)


def check_decisions(
    holds: list[HoldRecord],
    entries: list[JournalEntry],
    records: Iterable[AuditRecord],
    findings: Findings,
) -> None:
    """Add a finding for each decision the chain does not show as the store tells it."""
    on_chain: set[Decision] = set()
    adopted: dict[int, AuditRecord] = {}
    next_seq = 1
    for record in records:
        next_seq = record.seq + 1
        if (decision := _decision(record.event, record.outcome, record.details)) is not None:
            on_chain.add(decision)
        if isinstance(entry_id := record.details.get(ENTRY_KEY), int):
            adopted.setdefault(entry_id, record)
    journaled: set[Decision] = set()
    for entry in entries:
        told = entry.event
        details = told.get("details") or {}
        if (decision := _decision(told.get("event", ""), told.get("outcome"), details)) is not None:
            journaled.add(decision)
        _check_entry(entry, adopted.get(entry.entry_id), next_seq, findings)
    for hold in holds:
        for decision in _store_decisions(hold):
            if decision not in on_chain and decision not in journaled:
                hold_id, approver, kind = decision
                findings.add(
                    FindingKind.UNRECORDED_DECISION,
                    next_seq,
                    f"a record of {approver!r} deciding ({kind}) hold {hold_id}",
                    "none on the chain or in the decision journal",
                    f"hold {hold_id} shows {approver!r} deciding it ({kind}), but nothing"
                    " recorded that decision: the approval store was changed outside the firewall",
                )


def _check_entry(
    entry: JournalEntry, record: AuditRecord | None, next_seq: int, findings: Findings
) -> None:
    where = f"decision journal entry {entry.entry_id}"
    if record is not None:
        if not _same(entry, record):
            findings.add(
                FindingKind.JOURNAL_MISMATCH,
                record.seq,
                f"{where} as adopted at seq {record.seq}",
                "a different decision in the journal",
                f"{where} differs from the record that adopted it (seq {record.seq})",
            )
        return
    if entry.adopted_at is not None:
        findings.add(
            FindingKind.UNRECORDED_DECISION,
            next_seq,
            f"{where} on the chain (marked adopted {entry.adopted_at.isoformat()})",
            "no record adopting it",
            f"{where} is marked adopted but no record on the chain adopted it",
        )
        return
    findings.add(
        FindingKind.UNADOPTED_DECISION,
        next_seq,
        f"{where} on the chain",
        "not adopted yet",
        f"{where} (journaled {entry.journaled_at.isoformat()}) is not on the chain yet; the"
        " gate adopts it when it resumes the call, or run `firewall audit checkpoint`",
    )


def verify_decisions(report: VerifyReport, audit_url: str, approvals_url: str) -> VerifyReport:
    """``report`` with the findings of :func:`check_decisions` added (none without a store)."""
    if report.error is not None and report.records_checked == 0:
        return report
    store = _read_store(approvals_url)
    if store is None:
        return report
    findings = Findings()
    try:
        with SqlAuditLog(audit_url, create=False) as log:
            check_decisions(*store, log.records(), findings)
    except FirewallError as exc:
        return report.model_copy(update={"status": "inconclusive", "error": str(exc)})
    return merged(report, findings)


def merged(report: VerifyReport, findings: Findings) -> VerifyReport:
    """``report`` with ``findings`` added, its verdict and first finding recomputed."""
    if not findings.total:
        return report
    status = report.status
    if findings.has("tampered"):
        status = "tampered"
    elif findings.has("inconclusive") and status == "valid":
        status = "inconclusive"
    first = report.first_finding
    if first is None or (status == "tampered" and report.status != "tampered"):
        first = findings.first_problem
    return report.model_copy(
        update={
            "status": status,
            "findings": (*report.findings, *findings.kept),
            "findings_total": report.findings_total + findings.total,
            "first_finding": first,
            "first_bad_seq": first.seq if first else None,
        }
    )
