"""The chained audit record, format version 2, and the hash that seals it.

A record's *body* is the RFC 8785 canonical JSON of::

    {"entry": {...the event, personal data replaced by references...},
     "prev_hash": "sha256:<hex>", "seq": <n>, "time": "<UTC ISO-8601>", "v": 2}

and its hash is ``sha256:`` + SHA-256 of the body's UTF-8 bytes. The body is stored and
exported byte for byte, so a verifier hashes what is stored and never re-encodes it.
Keys sort as ``entry < prev_hash < seq < time < v``, so a body is the canonical entry
followed by the chain fields: sealing is string concatenation, cheap under the head lock.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from firewall.audit.events import AuditEvent
from firewall.audit.jcs import canonical
from firewall.canonical import fast_path_applies
from firewall.errors import AuditError

FORMAT_VERSION = 2
SUPPORTED_VERSIONS = frozenset({FORMAT_VERSION})
HASH_PREFIX = "sha256:"
GENESIS_HASH = HASH_PREFIX + "0" * 64
HASH_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
TIME_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")


class AuditRecord(AuditEvent):
    """One sealed record, flattened for reading: the entry's fields plus its chain place."""

    v: int = FORMAT_VERSION
    seq: int
    prev_hash: str
    time: str
    hash: str

    @classmethod
    def from_body(cls, body: str, record_hash: str) -> AuditRecord:
        """The record stored as ``body``; :class:`AuditError` if it is unreadable."""
        try:
            data = json.loads(body)
            entry = data.pop("entry")
            return cls.model_validate({**entry, **data, "hash": record_hash})
        except (ValueError, TypeError, KeyError, AttributeError, ValidationError) as exc:
            raise AuditError(f"audit record {record_hash} is unreadable: {exc}") from exc


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A record as stored: its sequence number, hash and exact body."""

    seq: int
    hash: str
    body: str

    def record(self) -> AuditRecord:
        """The parsed, flattened record."""
        return AuditRecord.from_body(self.body, self.hash)

    @property
    def leaf(self) -> bytes:
        """The raw 32-byte hash: the record's leaf data in the Merkle tree."""
        return bytes.fromhex(self.hash[len(HASH_PREFIX) :])


def event_data(event: AuditEvent) -> dict[str, Any]:
    """The event as JSON data; :class:`AuditError` if it has no canonical JSON form."""
    try:
        # Keep NaN and infinities as floats so canonicalisation refuses them (pydantic's
        # JSON mode would silently turn them into null).
        data: dict[str, Any] = to_jsonable_python(event.model_dump(), inf_nan_mode="constants")
    except ValueError as exc:  # PydanticSerializationError, or too deep to serialise
        raise AuditError(f"audit event is not JSON-serialisable: {exc}") from exc
    if not fast_path_applies(data):  # else it surely has a canonical form: skip encoding it
        canonical(data)
    return data


def seal_body(entry: str, seq: int, prev_hash: str, time: str) -> str:
    """The body that puts the canonical ``entry`` at ``seq`` after ``prev_hash``."""
    if HASH_PATTERN.fullmatch(prev_hash) is None or TIME_PATTERN.fullmatch(time) is None:
        raise AuditError(f"cannot seal seq {seq}: malformed previous hash or time")
    return (
        f'{{"entry":{entry},"prev_hash":"{prev_hash}","seq":{seq},'
        f'"time":"{time}","v":{FORMAT_VERSION}}}'
    )


def hash_body(body: str) -> str:
    """``sha256:<hex>`` of the body's UTF-8 bytes."""
    return HASH_PREFIX + hashlib.sha256(body.encode("utf-8")).hexdigest()


def format_time(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds, e.g. ``2025-01-31T09:00:00.000000+00:00``."""
    if moment.tzinfo is None:
        raise AuditError("audit time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def seal(event: AuditEvent, seq: int, prev_hash: str, time: datetime) -> SealedRecord:
    """Seal ``event`` as given (no personal-data protection: the log does that first)."""
    body = seal_body(canonical(event_data(event)), seq, prev_hash, format_time(time))
    return SealedRecord(seq=seq, hash=hash_body(body), body=body)
