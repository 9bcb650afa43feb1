"""Erasing a data subject everywhere the firewall keeps them, down to the database files.

1. The audit log deletes the subject's key and sealed values and appends
   ``subject_erased`` (the chain still verifies; see :mod:`firewall.audit.vault`).
2. The approval store deletes the subject's key: their holds read ``[erased]`` (see
   :mod:`firewall.approvals.sealing`).
3. Each database's files are scrubbed of the deleted rows (see :mod:`firewall.audit.scrub`).

The result says what was done and where it looked; :attr:`SubjectErasure.complete` is
False if any file could not be vouched for (run the erasure again once the cause is
gone: it repeats the clean-up).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firewall.approvals.journal import DecisionJournal, adopt_journal
from firewall.approvals.store import ERASABLE_TABLES as APPROVAL_TABLES
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.maintenance import Erasure
from firewall.audit.scrub import FileScrub, scrub_files
from firewall.audit.store import SqlAuditLog

NOT_COVERED = (
    "backups, snapshots, replicas and copies of these files made before now; "
    "PostgreSQL WAL segments (until the server recycles them) and WAL archives"
)


@dataclass
class SubjectErasure:
    """What erasing one subject did, in the audit log, the approval store and the files."""

    subject: str
    audit: Erasure | None = None
    holds_pseudonym: str | None = None
    holds_erased: int = 0
    files: list[FileScrub] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True iff every database's files were scrubbed."""
        return all(scrub.complete for scrub in self.files)

    @property
    def found(self) -> bool:
        """True iff the subject had a key in the audit log or the approval store."""
        return self.audit is not None or self.holds_pseudonym is not None

    def lines(self) -> list[str]:
        """The report, for people."""
        lines = [self._summary()]
        for scrub in self.files:
            lines.append(f"{scrub.database}:")
            lines += [f"  did: {step}" for step in scrub.done]
            lines.append(f"  looked at: {', '.join(scrub.looked) or '(nothing)'}")
            lines += [f"  PROBLEM: {problem}" for problem in scrub.problems]
        lines.append(f"not reached by erase: {NOT_COVERED}")
        if self.complete:
            lines.append("DONE: the subject's keys are gone from these database files")
        else:
            lines.append("NOT DONE: the keys may still be in the files above; fix the "
                         "problem and run erase again")  # fmt: skip
        return lines

    def _summary(self) -> str:
        if not self.found:
            return f"no personal data held for {self.subject}; nothing erased"
        parts = []
        if self.audit is not None:
            parts.append(
                f"audit log: pseudonym {self.audit.pseudonym}, {self.audit.values_deleted} "
                f"value(s) destroyed, erasure recorded at seq {self.audit.record.seq}"
            )
        if self.holds_pseudonym is not None or self.holds_erased:
            parts.append(f"approval store: {self.holds_erased} hold(s) now read [erased]")
        return f"erased {self.subject}: " + "; ".join(parts)


def erase_everywhere(
    log: SqlAuditLog, approvals: SqlApprovalStore | None, subject: str, *, same_database: bool
) -> SubjectErasure:
    """Erase ``subject`` from ``log`` and ``approvals``, then scrub their databases' files."""
    if approvals is not None:
        # Journaled decisions go on the chain (sealed) first; adopted entries keep nothing
        # personal, so the journal holds none of the subject's data after this.
        adopt_journal(DecisionJournal(approvals), log)
    result = SubjectErasure(subject, audit=log.erase(subject))
    if approvals is not None:
        result.holds_pseudonym, result.holds_erased = approvals.erase(subject)
    shared = APPROVAL_TABLES if approvals is not None and same_database else ()
    result.files.append(log.scrub_files(shared))
    if approvals is not None and not same_database:
        result.files.append(scrub_files(approvals.engine, APPROVAL_TABLES))
    return result
