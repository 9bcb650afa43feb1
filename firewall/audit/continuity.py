"""Noticing that the log went back under a writer: a restored backup, emptied tables, a new file.

The writer's head check (:mod:`firewall.audit.writer`) proves that a trusted key signed the
head for this log. An earlier backup of the same log passes it: it was signed, only
earlier. So a writer also remembers the newest head it knows committed (its *floor*) and
refuses a head behind it, or beside it (same seq, other hash). And before sealing after a
head, it checks that the head's own last record, the floor's record and the first record
are still in the records table: emptying or truncating ``audit_records`` leaves the head
row alone (a row deleted in between is for ``firewall audit verify`` to find). All three
are primary-key reads in the appending transaction (with PostgreSQL hand-off, inside the
claim statement, and read again only if that optimistic look, made before the head lock
was granted, missed one).

A new process has no floor: a log rolled back while no writer ran is for
``firewall audit verify`` and the checkpoints an auditor keeps to find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from firewall.audit.heads import HeadState
from firewall.errors import AuditError

NO_SEQ = -1
READ_LINKS = (
    "SELECT seq, hash FROM audit_records WHERE seq = 1 OR seq = %(head_seq)s OR seq = %(known_seq)s"
)
# The head row (HEAD_COLUMNS) and, in the same statement, the hashes of the records it
# links to: the head's last, the floor's and the first (PostgreSQL: the records as of the
# statement's start, perhaps before the lock was granted; see ChainWriter.lock_head).
LOCK_HEAD_AND_LINKS = (
    "SELECT seq, hash, frontier, note, checkpoint_size, checkpoint_time, "
    "(SELECT r.hash FROM audit_records r WHERE r.seq = audit_head.seq), "
    "(SELECT r.hash FROM audit_records r WHERE r.seq = %(known_seq)s), "
    "(SELECT r.hash FROM audit_records r WHERE r.seq = 1) "
    "FROM audit_head WHERE id = 1 FOR UPDATE"
)


class Continuity:
    """The newest head a writer knows committed, and the checks a new head must pass."""

    def __init__(self) -> None:
        self._floor: tuple[int, str] | None = None
        self._seen: tuple[int, str] | None = None
        self._first: str | None = None

    @property
    def known_seq(self) -> int:
        """The floor's seq, or :data:`NO_SEQ` (a parameter of the statements that read it)."""
        return self._floor[0] if self._floor else NO_SEQ

    def check_head(self, head: HeadState) -> None:
        """Refuse ``head`` if it is behind the floor or forks from it."""
        self._seen = (head.seq, head.hash)
        if self._floor is None:
            return
        seq, chain = self._floor
        if head.seq < seq or (head.seq == seq and head.hash != chain):
            raise AuditError(
                f"the audit head went back from seq {seq} to seq {head.seq}: the log was "
                "rolled back, restored from a backup or replaced under this writer; "
                "refusing to append (run `firewall audit verify`)"
            )

    def sealed(self, seq: int, chain: str) -> None:
        """The head this writer is about to commit (trusted once :meth:`committed`)."""
        self._seen = (seq, chain)

    def committed(self) -> None:
        """The transaction that read or moved the head committed, at the configured place."""
        if self._seen is not None and (self._floor is None or self._seen[0] >= self._floor[0]):
            self._floor = self._seen

    def links_of(self, head: HeadState, hashes: Sequence[Any]) -> dict[int, Any]:
        """The hashes :data:`LOCK_HEAD_AND_LINKS` found, by seq."""
        head_hash, known_hash, first_hash = hashes
        return {1: first_hash, self.known_seq: known_hash, head.seq: head_hash}

    def link_params(self, head: HeadState) -> dict[str, int]:
        """Parameters of :data:`READ_LINKS` for ``head``."""
        return {"head_seq": head.seq, "known_seq": self.known_seq}

    def check_links(self, head: HeadState, stored: Mapping[int, Any]) -> None:
        """Refuse to seal after ``head`` unless the records it links to are ``stored``
        (seq -> hash): its last, the floor's and the first."""
        problem = self.links_problem(head, stored)
        if problem is not None:
            raise AuditError(problem)

    def links_problem(self, head: HeadState, stored: Mapping[int, Any]) -> str | None:
        """What :meth:`check_links` would refuse, or None."""
        missing = self._missing(head, stored)
        if missing is None:
            return None
        return (
            f"audit record {missing}, signed into the head, is missing or changed: the "
            "records were deleted, emptied or replaced; refusing to append "
            "(run `firewall audit verify`)"
        )

    def _missing(self, head: HeadState, stored: Mapping[int, Any]) -> int | None:
        if head.seq <= 0:
            return None
        if stored.get(head.seq) != head.hash:
            return head.seq
        if self._first is None:
            self._first = stored.get(1)  # the first record never changes
        if self._first is None or stored.get(1) != self._first:
            return 1
        if self._floor is not None and self._floor[0] > 0:
            seq, chain = self._floor
            return seq if stored.get(seq) != chain else None
        return None
