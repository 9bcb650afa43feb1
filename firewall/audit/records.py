"""The chained audit record (format version 1) and the hash that seals it.

A record is an :class:`AuditEvent` plus its place in the chain: ``v``, ``seq``,
``prev_hash``, ``time`` and ``hash``. The hash is SHA-256 over the RFC 8785 canonical
JSON of every other field, so key order and number formatting never matter, and any
change to any field changes it.

Adding a field changes what the hash covers: bump the version and teach the verifier
the new format (``HASHED_FIELDS`` lists what version 1 covers).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785
from pydantic_core import PydanticSerializationError

from firewall.audit.events import AuditEvent
from firewall.canonical import canonical_json, sha256_hex
from firewall.errors import AuditError

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = frozenset({FORMAT_VERSION})
HASH_PREFIX = "sha256:"
GENESIS_HASH = HASH_PREFIX + "0" * 64
CHAIN_FIELDS = ("v", "seq", "prev_hash", "time")
HASHED_FIELDS = frozenset(CHAIN_FIELDS) | frozenset(AuditEvent.model_fields)


class AuditRecord(AuditEvent):
    """One sealed record of the audit chain (the first has ``seq`` 1)."""

    v: int = FORMAT_VERSION
    seq: int
    prev_hash: str
    time: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        """The record as JSON data, without ``hash``: what the hash covers."""
        return self.model_dump(mode="json", exclude={"hash"})


def compute_hash(record_fields: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over the canonical JSON of ``record_fields`` minus ``hash``."""
    fields = {key: value for key, value in record_fields.items() if key != "hash"}
    try:
        return HASH_PREFIX + sha256_hex(canonical_json(fields))
    except rfc8785.CanonicalizationError as exc:
        raise AuditError(f"audit record is not canonical JSON: {exc}") from exc


def format_time(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds, e.g. ``2025-01-31T09:00:00.000000+00:00``."""
    if moment.tzinfo is None:
        raise AuditError("audit time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def seal(event: AuditEvent, seq: int, prev_hash: str, time: datetime) -> AuditRecord:
    """The record that puts ``event`` at ``seq`` after ``prev_hash``, hash included."""
    try:
        event_fields = event.model_dump(mode="json")
    except PydanticSerializationError as exc:
        raise AuditError(f"audit event is not JSON-serialisable: {exc}") from exc
    fields = {
        "v": FORMAT_VERSION,
        "seq": seq,
        "prev_hash": prev_hash,
        "time": format_time(time),
        **event_fields,
    }
    return AuditRecord.model_validate({**fields, "hash": compute_hash(fields)})
