"""Sealing records: canonical hashing over every field, chain fields, time format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from firewall.audit.events import AuditEvent
from firewall.audit.records import (
    GENESIS_HASH,
    HASHED_FIELDS,
    AuditRecord,
    compute_hash,
    format_time,
    seal,
)
from firewall.canonical import digest
from firewall.errors import AuditError

MOMENT = datetime(2025, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)

EVENT = AuditEvent(
    event="decision",
    call_id="call_1",
    principal={"agent_id": "support-bot", "tenant": "acme", "scopes": ["crm:read"]},
    tool="refund",
    outcome="allow",
    code=None,
    reasons=("within budget",),
    policy_revision="sha256:" + "a" * 64,
    args_digest="sha256:" + "b" * 64,
    details={"amount": 12.5, "currency": "EUR"},
)

# A different value for every hashed field of the sealed EVENT record.
CHANGED_VALUES: dict[str, Any] = {
    "v": 2,
    "seq": 8,
    "prev_hash": "sha256:" + "1" * 64,
    "time": "2025-03-01T12:30:45.123457+00:00",
    "event": "outcome",
    "call_id": "call_2",
    "principal": {"agent_id": "support-bot", "tenant": "other"},
    "tool": "refund_all",
    "outcome": "deny",
    "code": "policy",
    "reasons": ["within budget", "extra"],
    "policy_revision": "sha256:" + "c" * 64,
    "args_digest": "sha256:" + "d" * 64,
    "details": {"amount": 12.51, "currency": "EUR"},
}


def sealed() -> AuditRecord:
    return seal(EVENT, 7, "sha256:" + "e" * 64, MOMENT)


def test_seal_copies_the_event_and_places_it_in_the_chain() -> None:
    record = sealed()
    assert (record.v, record.seq, record.prev_hash) == (1, 7, "sha256:" + "e" * 64)
    assert record.time == "2025-03-01T12:30:45.123456+00:00"
    assert record.model_dump(include=set(AuditEvent.model_fields)) == EVENT.model_dump()


def test_hash_is_sha256_over_the_canonical_json_of_all_fields_but_hash() -> None:
    record = sealed()
    assert record.hash == digest(record.model_dump(mode="json", exclude={"hash"}))
    assert record.hash == compute_hash(record.hashed_fields())


def test_hash_ignores_key_order_and_the_hash_field() -> None:
    fields = sealed().hashed_fields()
    reordered = dict(reversed(list(fields.items())))
    reordered["details"] = dict(reversed(list(fields["details"].items())))
    assert compute_hash(reordered) == compute_hash(fields)
    assert compute_hash({**fields, "hash": "sha256:whatever"}) == compute_hash(fields)


def test_number_formatting_does_not_change_the_hash() -> None:
    fields = sealed().hashed_fields()
    as_float = {**fields, "details": {"amount": 12.0, "currency": "EUR"}}
    as_int = {**fields, "details": {"amount": 12, "currency": "EUR"}}
    assert compute_hash(as_float) == compute_hash(as_int)


def test_changed_values_cover_every_hashed_field() -> None:
    assert set(CHANGED_VALUES) == HASHED_FIELDS


@pytest.mark.parametrize("field", sorted(CHANGED_VALUES))
def test_changing_any_field_changes_the_hash(field: str) -> None:
    fields = sealed().hashed_fields()
    assert fields[field] != CHANGED_VALUES[field]
    assert compute_hash({**fields, field: CHANGED_VALUES[field]}) != compute_hash(fields)


def test_hashed_fields_are_the_record_fields_except_hash() -> None:
    assert set(AuditRecord.model_fields) - {"hash"} == HASHED_FIELDS
    assert set(sealed().hashed_fields()) == HASHED_FIELDS


def test_genesis_hash_is_sha256_prefix_and_64_zeros() -> None:
    assert GENESIS_HASH == "sha256:" + "0" * 64


def test_time_is_converted_to_utc_with_microseconds() -> None:
    plus_two = datetime(2025, 3, 1, 14, 30, 45, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(plus_two) == "2025-03-01T12:30:45.000000+00:00"


def test_naive_time_is_refused() -> None:
    with pytest.raises(AuditError, match="timezone-aware"):
        seal(EVENT, 1, GENESIS_HASH, datetime(2025, 3, 1, 12, 0))


@pytest.mark.parametrize(
    "details",
    [{"ratio": float("nan")}, {"big": 2**60}, {"bad": "\ud800"}],
    ids=["nan", "unsafe-integer", "lone-surrogate"],
)
def test_values_without_canonical_json_raise_audit_error(details: dict[str, Any]) -> None:
    event = AuditEvent(event="decision", details=details)
    with pytest.raises(AuditError, match="not canonical JSON"):
        seal(event, 1, GENESIS_HASH, MOMENT)


def test_unserialisable_details_raise_audit_error() -> None:
    event = AuditEvent(event="decision", details={"obj": object()})
    with pytest.raises(AuditError, match="not JSON-serialisable"):
        seal(event, 1, GENESIS_HASH, MOMENT)


def test_records_are_frozen() -> None:
    record = sealed()
    with pytest.raises(ValueError, match="frozen"):
        record.seq = 8  # type: ignore[misc]
