"""Check an audit chain: every hash, every link, every sequence number, and the head.

Verification streams the records once, in constant memory (apart from the calls still
awaiting their outcome). Findings are typed; in-doubt calls (allowed, but no outcome
recorded) are listed for auditors without making the log tampered.
"""

from __future__ import annotations

from collections.abc import Iterable

from firewall.audit.findings import Finding, FindingKind, InDoubtCall, Status, VerifyReport
from firewall.audit.records import GENESIS_HASH, SUPPORTED_VERSIONS, AuditRecord, compute_hash
from firewall.audit.store import SqlAuditLog
from firewall.errors import AuditError, MissingDependencyError

MAX_FINDINGS = 100
Head = tuple[int, str]


class ChainVerifier:
    """Checks records one at a time, in sequence order; :meth:`report` gives the verdict."""

    def __init__(self, max_findings: int = MAX_FINDINGS) -> None:
        self._max_findings = max_findings
        self._findings: list[Finding] = []
        self._findings_total = 0
        self._first_finding: Finding | None = None
        self._checked = 0
        self._first_seq: int | None = None
        self._last: AuditRecord | None = None
        self._awaiting_outcome: dict[str, InDoubtCall] = {}

    def check(self, record: AuditRecord) -> None:
        """Check ``record`` against itself and the record before it."""
        self._check_sequence(record)
        self._check_hash(record)
        self._check_link(record)
        self._track_outcome(record)
        self._checked += 1
        if self._first_seq is None:
            self._first_seq = record.seq
        self._last = record

    def report(self, head: Head | None, error: str | None = None) -> VerifyReport:
        """The verdict given the head row; ``error`` means reading stopped early."""
        if error is None:
            self._check_head(head)
        status: Status = "valid"
        if self._findings_total:
            status = "tampered"
        elif error is not None:
            status = "inconclusive"
        return VerifyReport(
            status=status,
            first_bad_seq=self._first_finding.seq if self._first_finding else None,
            first_finding=self._first_finding,
            findings=tuple(self._findings),
            findings_total=self._findings_total,
            records_checked=self._checked,
            first_seq=self._first_seq,
            last_seq=self._last.seq if self._last else None,
            head=head,
            in_doubt=tuple(sorted(self._awaiting_outcome.values(), key=lambda call: call.seq)),
            error=error,
        )

    def _check_sequence(self, record: AuditRecord) -> None:
        expected = self._last.seq + 1 if self._last else 1
        if record.seq == expected:
            return
        message = f"expected seq {expected}, found seq {record.seq}"
        if record.seq == expected + 1:
            message = f"record {expected} is missing"
        elif record.seq > expected:
            message = f"records {expected}..{record.seq - 1} are missing"
        self._add(
            FindingKind.SEQUENCE_GAP,
            min(expected, record.seq),
            str(expected),
            str(record.seq),
            message,
        )

    def _check_hash(self, record: AuditRecord) -> None:
        if record.v not in SUPPORTED_VERSIONS:
            supported = ", ".join(str(version) for version in sorted(SUPPORTED_VERSIONS))
            message = f"record format version {record.v} is not supported"
            self._add(
                FindingKind.UNSUPPORTED_VERSION, record.seq, supported, str(record.v), message
            )
            return
        try:
            recomputed = compute_hash(record.hashed_fields())
        except AuditError as exc:  # sealing refuses such values, so this record was altered
            recomputed = f"no hash: {exc}"
        if recomputed != record.hash:
            message = "the record's content does not match its hash"
            self._add(FindingKind.HASH_MISMATCH, record.seq, recomputed, record.hash, message)

    def _check_link(self, record: AuditRecord) -> None:
        expected = self._last.hash if self._last else GENESIS_HASH
        if record.prev_hash != expected:
            message = "prev_hash is not the hash of the record before"
            self._add(FindingKind.BROKEN_LINK, record.seq, expected, record.prev_hash, message)

    def _track_outcome(self, record: AuditRecord) -> None:
        if record.call_id is None:
            return
        if record.event == "decision" and record.outcome == "allow":
            self._awaiting_outcome[record.call_id] = InDoubtCall(
                call_id=record.call_id, seq=record.seq, tool=record.tool
            )
        elif record.event == "outcome":
            self._awaiting_outcome.pop(record.call_id, None)

    def _check_head(self, head: Head | None) -> None:
        last = (self._last.seq, self._last.hash) if self._last else None
        if head == last:
            return
        shown_head = f"seq {head[0]} {head[1]}" if head else "an empty log"
        shown_last = f"seq {last[0]} {last[1]}" if last else "no records"
        if head is None or (last is not None and head[0] < last[0]):
            seq = head[0] + 1 if head else 1
            message = f"records exist beyond the head row ({shown_head})"
            self._add(FindingKind.HEAD_MISMATCH, seq, shown_head, shown_last, message)
            return
        seq = min(head[0], last[0] + 1 if last else 1)
        message = f"the head row records {shown_head} but the log ends at {shown_last}"
        self._add(FindingKind.TRUNCATION, seq, shown_head, shown_last, message)

    def _add(
        self, kind: FindingKind, seq: int, expected: str | None, found: str | None, message: str
    ) -> None:
        finding = Finding(kind=kind, seq=seq, expected=expected, found=found, message=message)
        self._findings_total += 1
        if self._first_finding is None or seq < self._first_finding.seq:
            self._first_finding = finding
        if len(self._findings) < self._max_findings:
            self._findings.append(finding)


def verify_chain(records: Iterable[AuditRecord], head: Head | None) -> VerifyReport:
    """Verify ``records`` (in sequence order) against the ``head`` row."""
    verifier = ChainVerifier()
    for record in records:
        verifier.check(record)
    return verifier.report(head)


def verify_store(url: str) -> VerifyReport:
    """Verify the audit log at ``url`` in one consistent snapshot, writing nothing."""
    try:
        log = SqlAuditLog(url, create=False)
    except (AuditError, MissingDependencyError) as exc:
        return VerifyReport(status="inconclusive", error=str(exc))
    verifier = ChainVerifier()
    head: Head | None = None
    try:
        with log.snapshot() as view:
            head = view.head()
            for record in view.records():
                verifier.check(record)
    except AuditError as exc:
        return verifier.report(head, error=str(exc))
    finally:
        log.close()
    return verifier.report(head)
