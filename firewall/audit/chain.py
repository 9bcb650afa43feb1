"""Checking the records themselves: hashes, links, sequence numbers, the Merkle tree.

:class:`ChainChecker` streams raw ``(row seq, stored hash, body)`` rows once, in constant
memory apart from the calls still awaiting their outcome. It works on the stored bytes
(no pydantic models: that is most of what makes verification fast) and remembers the
Merkle root and chain hash at every size a checkpoint speaks about.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from firewall.audit.findings import SEVERITY, Finding, FindingKind, InDoubtCall
from firewall.audit.merkle import EMPTY_ROOT, Frontier, leaf_hash
from firewall.audit.records import GENESIS_HASH, HASH_PREFIX, SUPPORTED_VERSIONS, hash_body

MAX_FINDINGS = 100
# The stages of the gate's last look before a tool starts (``Gate._before_run``): a denial
# there, after the call's allow, means the tool never started.
NEVER_STARTED_STAGES = frozenset({"freeze", "credential"})
# Findings that make the records from their seq on unverified (others concern rows beside
# the chain, or checkpoints, and leave a signed record as good as it was).
RECORD_PROBLEMS = frozenset(
    {
        FindingKind.HASH_MISMATCH,
        FindingKind.BROKEN_LINK,
        FindingKind.SEQUENCE_GAP,
        FindingKind.MALFORMED,
        FindingKind.UNSUPPORTED_VERSION,
        FindingKind.CHECKPOINT_INCONSISTENCY,
        FindingKind.HEAD_MISMATCH,
        FindingKind.TRUNCATION,
    }
)
CallKey = tuple[str, str | None, str | None]
"""A call as the chain names it: call id, tenant and agent (a model's ids may repeat)."""
Columns = tuple[str | None, str | None]
"""A record row's lookup columns: ``event`` and ``call_id``."""


@dataclass
class Findings:
    """Collects findings: the first ``limit`` kept, all counted, the first problem noted."""

    limit: int = MAX_FINDINGS
    kept: list[Finding] = field(default_factory=list)
    total: int = 0
    first_problem: Finding | None = None
    first_record_problem: int | None = None
    severities: set[str] = field(default_factory=set)

    def add(  # noqa: PLR0917 - a finding's fields, in the order the report shows them
        self,
        kind: FindingKind,
        seq: int,
        expected: str | None,
        found: str | None,
        message: str,
        through: int | None = None,
    ) -> None:
        """Record one finding (``through``: it lies somewhere in ``seq..through``)."""
        finding = Finding(
            kind=kind, seq=seq, expected=expected, found=found, message=message, through=through
        )
        self.total += 1
        self.severities.add(finding.severity)
        if len(self.kept) < self.limit:
            self.kept.append(finding)
        is_problem = SEVERITY.get(kind, "tampered") != "info"
        if is_problem and (self.first_problem is None or seq < self.first_problem.seq):
            self.first_problem = finding
        if kind in RECORD_PROBLEMS:
            self.first_record_problem = min(seq, self.first_record_problem or seq)

    def first_problem_between(self, first: int, last: int) -> int | None:
        """The lowest seq in ``first..last`` of a kept finding that shows tampering."""
        seqs = [f.seq for f in self.kept if f.severity == "tampered" and first <= f.seq <= last]
        return min(seqs, default=None)

    def has(self, severity: str) -> bool:
        """True if any finding so far has ``severity``."""
        return severity in self.severities


@dataclass(frozen=True)
class Rotation:
    """A ``key_rotated`` record: ``old`` endorses ``new`` (verifier key lines)."""

    seq: int
    old: str
    new: str


class ChainChecker:
    """Checks records one at a time, in order; remembers roots at ``sizes``."""

    def __init__(self, findings: Findings, sizes: Collection[int] = ()) -> None:
        self.findings = findings
        self.frontier = Frontier()
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.first_seq: int | None = None
        self.observed: dict[int, tuple[bytes, str]] = {0: (EMPTY_ROOT, GENESIS_HASH)}
        self.awaiting_outcome: dict[CallKey, tuple[int, str | None]] = {}
        self.erased: dict[str, int] = {}
        self.rotations: list[Rotation] = []
        self.on_record: Callable[[int, str], None] | None = None
        self._sizes = frozenset(sizes)

    def in_doubt(self) -> tuple[InDoubtCall, ...]:
        """Allowed calls with no outcome record, in sequence order."""
        calls = [
            InDoubtCall(call_id=key[0], seq=seq, tool=tool)
            for key, (seq, tool) in self.awaiting_outcome.items()
        ]
        return tuple(sorted(calls, key=lambda call: call.seq))

    @property
    def count(self) -> int:
        """Records checked so far."""
        return self.frontier.size

    def check(
        self,
        row_seq: int | None,
        stored_hash: str | None,
        body: str,
        columns: Columns | None = None,
    ) -> None:
        """Check one record against itself and the record before it.

        ``columns`` (a database row's ``event`` and ``call_id``) must say what the body says.
        """
        computed = hash_body(body)
        expected_seq = self.last_seq + 1
        data = _parse(body)
        seq = data.get("seq") if data is not None else None
        if data is None or not isinstance(seq, int):
            self._add(
                FindingKind.MALFORMED,
                row_seq or expected_seq,
                None,
                body[:80],
                "the record is not a format-2 JSON object",
            )
            seq = row_seq or expected_seq
        else:
            self._check_record(data, seq, row_seq, stored_hash, computed)
            seq = seq if row_seq is None else row_seq  # where it is, for what follows
            if columns is not None:
                self._check_columns(seq, data.get("entry"), columns)
            if self.on_record is not None:
                self.on_record(seq, str(data.get("time")))
        if self.first_seq is None:
            self.first_seq = seq
        self.frontier.append(leaf_hash(bytes.fromhex(computed[len(HASH_PREFIX) :])))
        # A database row's place is its seq column (a body naming another seq was reported):
        # so one misplaced row does not shift every later record's expected seq.
        self.last_seq, self.last_hash = seq, computed
        if self.frontier.size in self._sizes:
            self.observed[self.frontier.size] = (self.frontier.root(), computed)

    def _check_record(
        self, data: dict[str, Any], seq: int, row_seq: int | None, stored: str | None, computed: str
    ) -> None:
        gap = self._check_sequence(seq, row_seq)
        seq = seq if row_seq is None else row_seq  # a misplaced row is reported where it is
        altered = stored is not None and stored != computed
        if altered:
            self._add(
                FindingKind.HASH_MISMATCH,
                seq,
                computed,
                stored,
                "the record's content does not match its stored hash",
            )
        version = data.get("v")
        if version not in SUPPORTED_VERSIONS:
            self._add(
                FindingKind.UNSUPPORTED_VERSION,
                seq,
                "2",
                str(version),
                f"record format version {version} is not supported",
            )
        if data.get("prev_hash") != self.last_hash and not gap:
            self._report_link(seq, str(data.get("prev_hash")), blame_this=altered)
        entry = data.get("entry")
        if isinstance(entry, dict):
            self._track(seq, entry)

    def _check_columns(self, seq: int, entry: object, columns: Columns) -> None:
        entry = entry if isinstance(entry, dict) else {}
        said = (entry.get("event"), entry.get("call_id"))
        if said == columns:
            return
        for name, column, body_value in zip(("event", "call_id"), columns, said, strict=True):
            if column != body_value:
                self._add(
                    FindingKind.COLUMN_MISMATCH,
                    seq,
                    str(body_value),
                    str(column),
                    f"the row's {name} column says {column!r}, its signed record "
                    f"{body_value!r}: lookups by {name} were redirected",
                )

    def _report_link(self, seq: int, prev_hash: str, *, blame_this: bool) -> None:
        # Either this record's link or the record before it changed; unless this one is
        # known to be altered, the earlier record is the first that may be bad.
        where = seq if blame_this else max(self.last_seq, 1)
        self._add(
            FindingKind.BROKEN_LINK,
            where,
            self.last_hash,
            prev_hash,
            f"record {seq} links to a record {self.last_seq} other than the one stored: "
            f"record {self.last_seq} or record {seq}'s link was changed",
        )

    def _check_sequence(self, seq: int, row_seq: int | None) -> bool:
        expected = self.last_seq + 1
        if row_seq is not None and row_seq != seq:
            self._add(
                FindingKind.SEQUENCE_GAP,
                min(row_seq, expected),
                str(row_seq),
                str(seq),
                f"row {row_seq} holds the record of seq {seq}",
            )
            return True
        if seq == expected:
            return False
        message = f"expected seq {expected}, found seq {seq}"
        if seq == expected + 1:
            message = f"record {expected} is missing"
        elif seq > expected:
            message = f"records {expected}..{seq - 1} are missing"
        self._add(FindingKind.SEQUENCE_GAP, min(expected, seq), str(expected), str(seq), message)
        return True

    def _track(self, seq: int, entry: dict[str, Any]) -> None:
        event, call_id = entry.get("event"), entry.get("call_id")
        if event in {"decision", "outcome"} and isinstance(call_id, str):
            self._track_call(seq, _call_key(call_id, entry.get("principal")), entry)
        elif event in {"subject_erased", "key_rotated"}:
            self._track_maintenance(seq, event, entry.get("details") or {})

    def _track_call(self, seq: int, key: CallKey, entry: dict[str, Any]) -> None:
        outcome = entry.get("outcome")
        if entry.get("event") == "outcome":
            self.awaiting_outcome.pop(key, None)
        elif outcome == "allow":
            tool = entry.get("tool")
            self.awaiting_outcome[key] = (seq, tool if isinstance(tool, str) else None)
        elif outcome == "deny" and _stage(entry) in NEVER_STARTED_STAGES:
            self.awaiting_outcome.pop(key, None)  # refused at the last look: never ran

    def _track_maintenance(self, seq: int, event: str, details: dict[str, Any]) -> None:
        if event == "subject_erased":
            subject = str(details.get("subject"))
            self.erased[subject] = seq
            self._add(
                FindingKind.ERASED,
                seq,
                None,
                subject,
                f"subject {subject} was erased: its personal values are unreadable",
            )
            return
        old, new = details.get("old_key"), details.get("new_key")
        if isinstance(old, str) and isinstance(new, str):
            self.rotations.append(Rotation(seq=seq, old=old, new=new))

    def _add(
        self, kind: FindingKind, seq: int, expected: str | None, found: str | None, message: str
    ) -> None:
        self.findings.add(kind, seq, expected, found, message)


_DECODER = json.JSONDecoder()


def _call_key(call_id: str, principal: object) -> CallKey:
    if not isinstance(principal, dict):
        return call_id, None, None
    return call_id, _text(principal.get("tenant")), _text(principal.get("agent_id"))


def _stage(entry: dict[str, Any]) -> str | None:
    details = entry.get("details")
    return _text(details.get("stage")) if isinstance(details, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _parse(body: str) -> dict[str, Any] | None:
    try:
        data, end = _DECODER.raw_decode(body)  # json.loads minus its wrapper: hot path
    except ValueError:
        return None
    return data if isinstance(data, dict) and end == len(body) else None
