"""Record format 2: the body is canonical JSON, the hash is SHA-256 of its bytes."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime

import pytest
import rfc8785

from firewall.audit.events import AuditEvent
from firewall.audit.records import (
    FORMAT_VERSION,
    GENESIS_HASH,
    AuditRecord,
    event_data,
    format_time,
    hash_body,
    seal,
    seal_body,
)
from firewall.errors import AuditError

MOMENT = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
EVENT = AuditEvent(
    event="decision",
    call_id="call_1",
    tool="lookup",
    outcome="allow",
    reasons=("ok",),
    args={"order_id": "o-1", "amount": 12.5},
)


def test_body_is_the_canonical_json_of_entry_and_chain_fields() -> None:
    sealed = seal(EVENT, 1, GENESIS_HASH, MOMENT)
    data = json.loads(sealed.body)
    assert sealed.body == rfc8785.dumps(data).decode("utf-8")
    assert (data["v"], data["seq"], data["prev_hash"]) == (FORMAT_VERSION, 1, GENESIS_HASH)
    assert data["time"] == "2025-01-31T09:00:00.000000+00:00"
    assert data["entry"] == event_data(EVENT)


def test_hash_is_sha256_of_the_body_bytes() -> None:
    sealed = seal(EVENT, 7, "sha256:" + "ab" * 32, MOMENT)
    assert sealed.hash == "sha256:" + hashlib.sha256(sealed.body.encode()).hexdigest()
    assert sealed.hash == hash_body(sealed.body)


def test_a_record_reads_back_flat_with_every_field() -> None:
    sealed = seal(EVENT, 3, GENESIS_HASH, MOMENT)
    record = sealed.record()
    assert isinstance(record, AuditRecord)
    assert (record.seq, record.hash, record.tool, record.args) == (
        3,
        sealed.hash,
        "lookup",
        {"order_id": "o-1", "amount": 12.5},
    )


def test_sealing_refuses_a_malformed_previous_hash() -> None:
    with pytest.raises(AuditError, match="malformed previous hash"):
        seal_body("{}", 2, 'sha256:"}', format_time(MOMENT))


def test_events_without_canonical_json_are_refused() -> None:
    with pytest.raises(AuditError, match="not canonical JSON"):
        event_data(AuditEvent(event="decision", details={"ratio": math.nan}))


def test_naive_times_are_refused() -> None:
    with pytest.raises(AuditError, match="timezone-aware"):
        format_time(datetime(2025, 1, 31))


def test_an_unreadable_body_is_an_audit_error() -> None:
    with pytest.raises(AuditError, match="unreadable"):
        AuditRecord.from_body('{"entry": 1}', GENESIS_HASH)
