"""What the verifier reports: typed findings, in-doubt calls and the verdict."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal

from pydantic import computed_field

from firewall.types import Frozen

Status = Literal["valid", "tampered", "inconclusive"]


class FindingKind(StrEnum):
    """What is wrong with the chain at one place."""

    HASH_MISMATCH = "hash_mismatch"
    BROKEN_LINK = "broken_link"
    SEQUENCE_GAP = "sequence_gap"
    TRUNCATION = "truncation"
    HEAD_MISMATCH = "head_mismatch"
    UNSUPPORTED_VERSION = "unsupported_version"


class Finding(Frozen):
    """One problem; ``seq`` is the first sequence number it affects."""

    kind: FindingKind
    seq: int
    expected: str | None
    found: str | None
    message: str


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
    """The verdict on one chain.

    ``first_finding`` is the finding at ``first_bad_seq``; ``findings`` holds at most the first 100 findings; ``findings_total`` counts all.
    ``error`` says why the log could not be read (fully): the verdict is then
    ``inconclusive`` unless what was read already shows tampering.
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
