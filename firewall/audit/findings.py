"""What the verifier reports: typed findings, in-doubt calls and the verdict."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal

from pydantic import computed_field

from firewall.types import Frozen

Status = Literal["valid", "tampered", "inconclusive"]
Severity = Literal["tampered", "inconclusive", "info"]


class FindingKind(StrEnum):
    """What is wrong (or worth knowing) at one place of the log."""

    HASH_MISMATCH = "hash_mismatch"
    BROKEN_LINK = "broken_link"
    SEQUENCE_GAP = "sequence_gap"
    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    UNSIGNED_TAIL = "unsigned_tail"
    TRUNCATION = "truncation"
    CHECKPOINT_INCONSISTENCY = "checkpoint_inconsistency"
    HEAD_MISMATCH = "head_mismatch"
    STALE_HEAD = "stale_head"
    UNWITNESSED_TAIL = "unwitnessed_tail"
    ERASED = "erased"
    STRAY_ROW = "stray_row"
    COLUMN_MISMATCH = "column_mismatch"
    CHECKPOINT_MISSING = "checkpoint_missing"
    UNADOPTED_DECISION = "unadopted_decision"
    UNRECORDED_DECISION = "unrecorded_decision"
    JOURNAL_MISMATCH = "journal_mismatch"


SEVERITY: dict[FindingKind, Severity] = {
    FindingKind.UNSUPPORTED_VERSION: "inconclusive",
    FindingKind.STALE_HEAD: "inconclusive",
    FindingKind.UNWITNESSED_TAIL: "inconclusive",
    FindingKind.ERASED: "info",
    FindingKind.UNADOPTED_DECISION: "inconclusive",
}


class Finding(Frozen):
    """One finding; ``seq`` is the first sequence number it affects.

    ``through``, when set, bounds where the problem lies: some record in
    ``seq..through`` (a recomputed chain: the signed checkpoints around it say no more).
    """

    kind: FindingKind
    seq: int
    expected: str | None
    found: str | None
    message: str
    through: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def severity(self) -> Severity:
        """``tampered``, ``inconclusive`` or ``info`` (an erasure is not a problem)."""
        return SEVERITY.get(self.kind, "tampered")


class InDoubtCall(Frozen):
    """A call that was allowed but has no outcome record: did the tool run?"""

    call_id: str
    seq: int
    tool: str | None


class ExitStatus(IntEnum):
    """Exit status of ``firewall audit verify``."""

    VALID = 0
    TAMPERED = 1
    INCONCLUSIVE = 2


class VerifyReport(Frozen):
    """The verdict on one log.

    ``first_finding`` is the first problem (not ``info``) by sequence number.
    ``findings`` holds at most the first 100 findings; ``findings_total`` counts all.
    ``signed_through`` is the last seq covered by a checkpoint signed with a trusted key
    and consistent with the records; ``verified_through`` the last seq of the records
    that verified (signed so, and before any record found bad): what may be displayed.
    ``error`` says why the log could not be checked fully: the verdict is then
    ``inconclusive`` unless what was read shows tampering.
    """

    status: Status
    first_bad_seq: int | None = None
    first_finding: Finding | None = None
    findings: tuple[Finding, ...] = ()
    findings_total: int = 0
    records_checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head: tuple[int, str] | None = None
    root: str | None = None
    origin: str | None = None
    signed_through: int = 0
    witnessed_through: int | None = None
    verified_through: int = 0
    checkpoints_checked: int = 0
    trusted_keys: tuple[str, ...] = ()
    erased_subjects: int = 0
    in_doubt: tuple[InDoubtCall, ...] = ()
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def valid(self) -> bool:
        """True only if every check passed."""
        return self.status == "valid"

    @property
    def exit_status(self) -> ExitStatus:
        """0 valid, 1 tampered, 2 inconclusive."""
        return ExitStatus[self.status.upper()]

    def summary(self) -> str:
        """One line: the verdict and where the log first breaks (or what it covers)."""
        first = self.first_finding
        if self.status == "tampered" and first is not None:
            where = f"seq {first.seq}"
            if first.through is not None and first.through > first.seq:
                where = f"in seq {first.seq}..{first.through}"
            return (
                f"TAMPERED: first bad record {where}: {first.kind.value}: "
                f"expected {first.expected}, found {first.found}"
            )
        if self.status == "inconclusive":
            reason = self.error or (first.message if first else "unknown")
            return f"INCONCLUSIVE: {reason} ({self.records_checked} records checked)"
        if self.head is None:
            return f"OK: {self.records_checked} records verified (empty log)"
        erased = f", {self.erased_subjects} erased subject(s)" if self.erased_subjects else ""
        return (
            f"OK: {self.records_checked} records (seq {self.first_seq}..{self.last_seq}) "
            f"verified, head {self.head[1]}, signed through seq {self.signed_through}{erased}"
        )
