"""Announcing where handed-off records went, so their writers need not query for them.

The sealing process sends one ``NOTIFY`` per batch: for each ticket, the runs of
sequence numbers its records got and the previous hash at the start of each run, under
an HMAC with the handoff key. A waiting process re-seals its own entries at those places
(same bytes, same hashes) and returns; a forged notification fails the HMAC and is
ignored. Payloads stay under PostgreSQL's 8000-byte limit; a ticket too large for one
is not announced, and its process queries for its records instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from typing import Any

from firewall.audit.heads import PendingEntry
from firewall.audit.records import SealedRecord, hash_body, seal_body

NOTIFY_BUDGET = 7000  # bytes of placements per NOTIFY (PostgreSQL stops at 8000)


def announcements(pairs: list[tuple[SealedRecord, PendingEntry]], key: bytes) -> Iterator[str]:
    """Signed payloads placing every ticket of a sealed batch."""
    time_text = str(json.loads(pairs[0][0].body)["time"])
    for placed in _batches(pairs):
        payload = json.dumps({"time": time_text, "placed": placed}, separators=(",", ":"))
        yield hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest() + "." + payload


def _runs(records: list[SealedRecord]) -> list[list[Any]]:
    """``[[first seq, its prev_hash, length], ...]``: each run of consecutive records."""
    runs: list[list[Any]] = []
    for record in records:
        if runs and runs[-1][0] + runs[-1][2] == record.seq:
            runs[-1][2] += 1
        else:
            runs.append([record.seq, str(json.loads(record.body)["prev_hash"]), 1])
    return runs


def _batches(
    pairs: list[tuple[SealedRecord, PendingEntry]],
) -> Iterator[dict[str, list[list[Any]]]]:
    """The placements of every ticket, split into payloads PostgreSQL accepts."""
    by_ticket: dict[str, list[SealedRecord]] = {}
    for record, entry in pairs:
        by_ticket.setdefault(str(entry.ticket), []).append(record)
    batch: dict[str, list[list[Any]]] = {}
    size = 0
    for ticket, records in by_ticket.items():
        runs = _runs(records)
        cost = len(ticket) + len(json.dumps(runs)) + 8
        if cost > NOTIFY_BUDGET:
            continue  # its process finds its records by querying instead
        if size + cost > NOTIFY_BUDGET:
            yield batch
            batch, size = {}, 0
        batch[ticket], size = runs, size + cost
    if batch:
        yield batch


def placements(signed: str, keys: Sequence[bytes]) -> dict[str, tuple[str, list[list[Any]]]]:
    """``{ticket: (time, runs)}`` of an authentic announcement, else ``{}``."""
    mac, _, payload = signed.partition(".")
    expected = (hmac.new(k, payload.encode("utf-8"), hashlib.sha256).hexdigest() for k in keys)
    if not any(hmac.compare_digest(mac, candidate) for candidate in expected):
        return {}
    data = json.loads(payload)
    return {ticket: (data["time"], runs) for ticket, runs in data["placed"].items()}


def rebuild(
    entries: list[PendingEntry], runs: list[list[Any]], time_text: str
) -> list[SealedRecord]:
    """This process's records, re-sealed from its own entries where the leader put them."""
    places = [
        (int(start) + offset, str(prev) if offset == 0 else None)
        for start, prev, length in runs
        for offset in range(int(length))
    ]
    records: list[SealedRecord] = []
    for entry, (seq, prev_hash) in zip(entries, places, strict=False):
        previous = prev_hash if prev_hash is not None else records[-1].hash
        body = seal_body(entry.entry, seq, previous, time_text)
        records.append(SealedRecord(seq=seq, hash=hash_body(body), body=body))
    return records
