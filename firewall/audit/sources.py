"""Where a verifier or prover reads a log from: a database snapshot or a bundle."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from firewall.audit.bundle import BundleSource, RawRow
from firewall.audit.census import check_tables
from firewall.audit.chain import ChainChecker, Columns, Findings
from firewall.audit.reading import AuditSnapshot
from firewall.audit.records import HASH_PREFIX, hash_body
from firewall.audit.store import SqlAuditLog
from firewall.errors import AuditError


class LogSource(Protocol):
    """Records and checkpoints of one log."""

    origin: str | None

    def notes(self) -> list[tuple[str, str]]:
        """``(where from, note text)`` of every checkpoint the log holds."""
        ...

    def rows(self) -> Iterator[RawRow]:
        """``(row seq or None, stored hash or None, body)`` in order."""
        ...

    def head_row(self) -> tuple[int, str] | None:
        """The unauthenticated head row of a database (None: empty, or a bundle)."""
        ...

    def checked_rows(self) -> Iterator[tuple[int | None, str | None, str, Columns | None]]:
        """Like :meth:`rows`, with a database row's lookup columns (``event``, ``call_id``)."""
        ...

    def check_tables(self, chain: ChainChecker, findings: Findings) -> None:
        """Report what a database holds beside the chain (nothing, for a bundle)."""
        ...


class SnapshotSource:
    """A :class:`LogSource` over one database snapshot."""

    def __init__(self, view: AuditSnapshot) -> None:
        self._view = view
        self.origin: str | None = view.meta().get("origin")

    def notes(self) -> list[tuple[str, str]]:
        """Stored checkpoints, then the signed head."""
        stored = [(f"stored checkpoint #{i}", note) for i, note in self._view.checkpoint_notes()]
        head = self._view.head_note()
        return stored + ([("signed head", head)] if head else [])

    def rows(self) -> Iterator[RawRow]:
        """Every record, unparsed."""
        return self._view.raw_rows()

    def head_row(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the head row."""
        return self._view.head()

    def checked_rows(self) -> Iterator[tuple[int | None, str | None, str, Columns | None]]:
        """Every record from seq 1 on, with its row's ``event`` and ``call_id`` columns."""
        for seq, record_hash, body, event, call_id in self._view.rows_with_columns():
            # A rebuilt table may hold a seq of another type: compare it as a number.
            row_seq = seq if type(seq) is int else _as_seq(seq)
            yield row_seq, record_hash, body, (event, call_id)

    def check_tables(self, chain: ChainChecker, findings: Findings) -> None:
        """Rows outside the chain, and columns beside signed data (see :mod:`census`)."""
        check_tables(self._view, chain, findings)


def _as_seq(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


@contextmanager
def open_source(db_url: str | None, bundle: Path | None) -> Iterator[LogSource]:
    """The log at ``db_url`` (one snapshot) or in the ``bundle`` directory."""
    if bundle is not None:
        yield BundleSource(bundle)
        return
    if db_url is None:
        raise AuditError("give a database URL or a bundle directory")
    with SqlAuditLog(db_url, create=False) as log, log.snapshot() as view:
        yield SnapshotSource(view)


def leaves_and_body(source: LogSource, seq: int | None) -> tuple[list[bytes], str | None]:
    """Every record's leaf data (raw hash of its body), and the body of record ``seq``."""
    leaves: list[bytes] = []
    wanted: str | None = None
    for _, _, body in source.rows():
        leaves.append(bytes.fromhex(hash_body(body)[len(HASH_PREFIX) :]))
        if len(leaves) == seq:
            wanted = body
    return leaves, wanted


def rotation_records(source: LogSource) -> list[tuple[int, str]]:
    """``(seq, body)`` of every ``key_rotated`` record, in order."""
    found: list[tuple[int, str]] = []
    for seq, (_, _, body) in enumerate(source.rows(), start=1):
        if '"key_rotated"' not in body:
            continue
        try:
            entry = json.loads(body).get("entry", {})
        except (ValueError, AttributeError):
            continue
        if isinstance(entry, dict) and entry.get("event") == "key_rotated":
            found.append((seq, body))
    return found
