"""Were the checkpoints kept that the writers' schedule called for?

Writers keep a checkpoint at the first append that crosses a multiple of N records or
enters a new T-second interval (see :mod:`firewall.audit.writer`). So whenever an append
ends N or more records, or T or more seconds, after the last kept checkpoint, it kept
one itself. The verifier reads that back from the records: every append seals its
records with one time, so a run of records with the same time ends where an append ended.
An append that should have kept a checkpoint and did not (none is stored in its range)
is a ``checkpoint_missing`` finding: stored checkpoints were deleted, or the writers were
kept from storing them (and from mirroring them off the box). Logs written under a looser
policy than the one checked report checkpoints missing too: check with the writers' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from firewall.audit.chain import Findings
from firewall.audit.findings import FindingKind
from firewall.audit.records import TIME_PATTERN
from firewall.audit.settings import CheckpointPolicy


class CadenceCheck:
    """Fed every record's ``(seq, time)`` in order; ``stored``: the log's ``(size, time)``s."""

    def __init__(
        self, policy: CheckpointPolicy, stored: Sequence[tuple[int, str]], findings: Findings
    ) -> None:
        self._policy = policy
        self._stored = sorted(stored)
        self._findings = findings
        self._next = 0  # index of the first stored checkpoint not yet counted
        self._kept: tuple[int, str | None] = (0, None)  # newest kept checkpoint so far
        self._end = 0  # where the last append ended
        self._group: tuple[int, str] | None = None  # the append being read: last seq, time

    def check_genesis(self) -> None:
        """Every log keeps the checkpoint of its empty head, signed when it was created."""
        if not self._stored or self._stored[0][0] != 0:
            self._findings.add(
                FindingKind.CHECKPOINT_MISSING,
                1,
                "the stored checkpoint of size 0",
                "none",
                "the log's first checkpoint (size 0, kept when it was created) is not stored: "
                "stored checkpoints were deleted",
            )

    def record(self, seq: int, time: str) -> None:
        """One record; a change of time means the append before it ended."""
        if TIME_PATTERN.fullmatch(time) is None:
            return  # a malformed record: reported by the chain checker
        if self._group is not None and self._group[1] != time:
            self._append_ended(*self._group)
        self._group = (seq, time)

    def finish(self) -> None:
        """After the last record."""
        if self._group is not None:
            self._append_ended(*self._group)
            self._group = None

    def _append_ended(self, end: int, time: str) -> None:
        kept_here = self._count_stored_through(end)
        if not kept_here:
            self._check_due(end, time)
        self._end = end

    def _count_stored_through(self, end: int) -> bool:
        """Count the stored checkpoints up to ``end``; True if one lies in this append."""
        found = False
        size, kept_time = self._kept
        while self._next < len(self._stored) and self._stored[self._next][0] <= end:
            stored_size, stored_time = self._stored[self._next]
            found = found or stored_size > self._end
            size = max(size, stored_size)
            kept_time = stored_time if kept_time is None else max(kept_time, stored_time)
            self._next += 1
        self._kept = (size, kept_time)
        return found

    def _check_due(self, end: int, time: str) -> None:
        size, kept_time = self._kept
        policy = self._policy
        by_records = end - size >= policy.every_records
        elapsed = _seconds_between(kept_time, time)
        by_time = elapsed is not None and elapsed >= policy.every_seconds
        if not (by_records or by_time):
            return
        why = (
            f"{end - size} records" if by_records else f"{elapsed:g} s"
        ) + f" after the last stored checkpoint (size {size})"
        self._findings.add(
            FindingKind.CHECKPOINT_MISSING,
            end,
            f"a stored checkpoint of size {size + 1}..{end}",
            "none",
            f"records up to seq {end} were appended {why} but no checkpoint was kept, "
            f"though the policy (every {policy.every_records} records or "
            f"{policy.every_seconds:g} s) called for one: stored checkpoints were "
            "deleted, or the writers were kept from storing them",
        )
        self._kept = (end, time)  # report the next one missing from here on


def _seconds_between(earlier: str | None, later: str) -> float | None:
    if earlier is None:
        return None
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
