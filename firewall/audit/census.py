"""Every row of the audit tables is verified or reported: the rows the chain does not reach.

The chain checker reads the records from seq 1 on. Here the verifier looks at what it
would not see: rows before seq 1 or without one, rows sharing a sequence number,
extra head rows, and the unauthenticated columns next to signed data (the head row's
frontier and checkpoint columns, each stored checkpoint's size and time, the metadata).
"""

from __future__ import annotations

import json
from typing import Any

from firewall.audit.chain import ChainChecker, Findings
from firewall.audit.checkpoints import parse_checkpoint
from firewall.audit.findings import FindingKind
from firewall.audit.reading import AuditSnapshot
from firewall.audit.schema import HEAD_ROW_ID
from firewall.audit.store import ORIGIN_PREFIX
from firewall.errors import AuditError

MAX_STRAY_SHOWN = 20
META_NAMES = frozenset({"format", "log_id", "origin", "created"})


def check_tables(view: AuditSnapshot, chain: ChainChecker, findings: Findings) -> None:
    """Report every row, or column, of the audit tables that the chain does not vouch for."""
    _check_records_outside(view, chain, findings)
    stored = _check_checkpoint_rows(view, findings)
    _check_head_rows(view, chain, stored, findings)
    _check_meta(view, findings)


def _check_records_outside(view: AuditSnapshot, chain: ChainChecker, findings: Findings) -> None:
    outside, shown = view.rows_outside(MAX_STRAY_SHOWN)
    for row in shown:
        seq = 0 if row.seq is None else int(row.seq)
        findings.add(
            FindingKind.STRAY_ROW,
            seq,
            "no row outside seq 1..head",
            f"a {row.event} row of call {row.call_id}",
            f"audit_records holds a row at seq {row.seq}, outside the chain: planted "
            "(nothing verifies it; nothing should display it)",
        )
    if outside > len(shown):
        findings.add(
            FindingKind.STRAY_ROW,
            0,
            None,
            f"{outside} rows",
            f"... {outside - len(shown)} more rows outside the chain",
        )
    extra = view.row_count() - outside - chain.count
    if extra > 0:
        findings.add(
            FindingKind.STRAY_ROW,
            chain.first_seq or 1,
            f"{chain.count} chain rows",
            f"{extra} more",
            f"{extra} row(s) of audit_records share a sequence number with another "
            "(the table's primary key was dropped): planted",
        )


def _check_checkpoint_rows(view: AuditSnapshot, findings: Findings) -> set[tuple[int, str]]:
    """Each stored checkpoint's columns against its note; the ``(size, time)`` it says."""
    stored: set[tuple[int, str]] = set()
    for row in view.checkpoint_rows():
        try:
            note = parse_checkpoint(str(row.note))
        except AuditError:
            continue  # reported as malformed by the verifier
        checkpoint, time = note.checkpoint, note.claimed_time or ""
        stored.add((checkpoint.size, time))
        columns = (int(row.size), str(row.time))
        if columns != (checkpoint.size, time):
            findings.add(
                FindingKind.COLUMN_MISMATCH,
                max(1, checkpoint.size),
                f"size {checkpoint.size}, time {time}",
                f"size {columns[0]}, time {columns[1]}",
                f"stored checkpoint #{row.id}'s size and time columns are not what its "
                "signed note says",
            )
    return stored


def _check_head_rows(
    view: AuditSnapshot, chain: ChainChecker, stored: set[tuple[int, str]], findings: Findings
) -> None:
    for row in view.head_rows():
        if int(row.id) != HEAD_ROW_ID:
            findings.add(
                FindingKind.STRAY_ROW,
                max(1, chain.count),
                "one head row",
                f"head row id {row.id}",
                "audit_head holds a second row: planted",
            )
            continue
        _check_frontier(row, chain, findings)
        kept = (int(row.checkpoint_size), str(row.checkpoint_time))
        if kept not in stored:
            findings.add(
                FindingKind.CHECKPOINT_MISSING,
                max(1, kept[0]),
                f"a stored checkpoint of size {kept[0]} signed at {kept[1]}",
                "none",
                "the head row names the newest checkpoint kept, and it is not stored: "
                "stored checkpoints were deleted, or the head row was edited",
            )


def _check_frontier(row: Any, chain: ChainChecker, findings: Findings) -> None:
    if int(row.seq) != chain.count:
        return  # reported by the verifier as a head mismatch or a truncation
    try:
        frontier = [bytes.fromhex(item) for item in json.loads(str(row.frontier))]
    except (ValueError, TypeError):
        frontier = []
    if frontier != chain.frontier.hashes():
        findings.add(
            FindingKind.HEAD_MISMATCH,
            max(1, chain.count),
            "the Merkle frontier of the records",
            "another",
            "the head row's Merkle frontier is not the records' (writers would extend a "
            "tree other than the log's)",
        )


def _check_meta(view: AuditSnapshot, findings: Findings) -> None:
    meta = view.meta()
    for name in sorted(set(meta) - META_NAMES):
        findings.add(
            FindingKind.STRAY_ROW,
            0,
            None,
            f"audit_meta {name!r}",
            f"audit_meta holds a row {name!r} no writer wrote",
        )
    if meta.get("origin") != ORIGIN_PREFIX + meta.get("log_id", ""):
        findings.add(
            FindingKind.COLUMN_MISMATCH,
            1,
            f"origin {ORIGIN_PREFIX}{meta.get('log_id')}",
            f"origin {meta.get('origin')}",
            "the log's origin (what its checkpoints are signed for) does not match its log id",
        )
