"""The SQL audit log: gapless linked appends, exact read-back, errors as AuditError."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, delete, text

from firewall.audit.events import AuditEvent
from firewall.audit.records import GENESIS_HASH, HASHED_FIELDS, compute_hash
from firewall.audit.schema import head_table, records_table
from firewall.audit.store import SqlAuditLog
from firewall.errors import AuditError


def event(n: int, **fields: object) -> AuditEvent:
    return AuditEvent.model_validate({"event": "decision", "call_id": f"call_{n}", **fields})


def test_append_assigns_gapless_sequence_numbers_and_links(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log:
        records = [log.append(event(n)) for n in range(1, 6)]
    assert [record.seq for record in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]


def test_append_moves_the_head(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log:
        assert log.head() is None
        last = log.append(event(1))
        assert log.head() == (1, last.hash)


def test_append_many_seals_a_linked_batch_after_the_head(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log:
        first = log.append(event(0))
        batch = log.append_many([event(n) for n in range(1, 4)])
        assert [record.seq for record in batch] == [2, 3, 4]
        assert [r.prev_hash for r in batch] == [first.hash, batch[0].hash, batch[1].hash]
        assert log.head() == (4, batch[-1].hash)
        assert list(log.records()) == [first, *batch]


def test_append_many_of_nothing_writes_nothing(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log:
        assert log.append_many([]) == []
        assert log.head() is None


def test_store_sets_the_time_in_utc_with_microseconds(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log, freeze_time("2025-06-01 08:15:30.250000"):
        record = log.append(event(1))
    assert record.time == "2025-06-01T08:15:30.250000+00:00"


def test_records_read_back_exactly_as_written_and_rehash(audit_url: str) -> None:
    awkward = event(
        1,
        principal={"z": 1, "a": {"nested": [1, 2.5]}, "scopes": ["b", "a"]},
        reasons=("ünïcödé ✓", 'quote " and \\ backslash', "nul \x00 char"),
        details={
            "floats": [0.1, 1e21, 1e-7, -0.0, 5.0, 1.7976931348623157e308, 2**53 - 1],
            "keys": {"b": 1, "a": 2, "é": 3, "": None},
            "text": "line\nbreak\ttab",
            "bool": True,
        },
    )
    with SqlAuditLog(audit_url) as log:
        written = log.append(awkward)
        (read,) = log.records()
    assert read == written
    assert compute_hash(read.hashed_fields()) == written.hash


def test_records_stream_from_a_start_seq_across_chunks(audit_url: str) -> None:
    with SqlAuditLog(audit_url, chunk_size=3) as log:
        written = log.append_many([event(n) for n in range(1, 11)])
        assert list(log.records()) == written
        assert [record.seq for record in log.records(start_seq=4)] == list(range(4, 11))
        assert list(log.records(start_seq=11)) == []


def test_records_for_call_returns_that_calls_records_in_order(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log:
        log.append_many(
            [
                event(1, outcome="allow"),
                event(2),
                AuditEvent(event="outcome", call_id="call_1", outcome="ok"),
            ]
        )
        records = log.records_for_call("call_1")
    assert [(r.seq, r.event) for r in records] == [(1, "decision"), (3, "outcome")]


def test_a_second_log_on_the_same_database_continues_the_chain(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as first:
        before = first.append(event(1))
    with SqlAuditLog(audit_url) as second:
        after = second.append(event(2))
    assert (after.seq, after.prev_hash) == (2, before.hash)


def test_a_failed_append_writes_nothing(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log:
        first = log.append(event(1))
        with pytest.raises(AuditError):
            log.append_many([event(2), event(3, details={"ratio": float("inf")})])
        assert list(log.records()) == [first]
        assert log.head() == (1, first.hash)


def test_tables_have_one_column_per_record_field() -> None:
    assert set(records_table.c.keys()) == HASHED_FIELDS | {"hash"}
    assert set(head_table.c.keys()) == {"id", "seq", "hash"}


def test_append_without_a_head_row_refuses(audit_url: str) -> None:
    with SqlAuditLog(audit_url) as log:
        log.append(event(1))
        engine = create_engine(audit_url)
        with engine.begin() as conn:
            conn.execute(delete(head_table))
        engine.dispose()
        with pytest.raises(AuditError, match="head row is missing"):
            log.append(event(2))


def test_unreachable_postgres_raises_audit_error() -> None:
    with pytest.raises(AuditError, match="could not open its tables"):
        SqlAuditLog("postgresql+psycopg://postgres@127.0.0.1:1/test")


def test_read_only_sqlite_database_raises_audit_error_on_append(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    SqlAuditLog(f"sqlite:///{path}").close()
    with SqlAuditLog(f"sqlite:///file:{path}?mode=ro&uri=true") as log:
        with pytest.raises(AuditError, match="could not append"):
            log.append(event(1))
        assert log.head() is None


def test_invalid_url_raises_audit_error() -> None:
    with pytest.raises(AuditError, match="invalid audit store URL"):
        SqlAuditLog("not a url")


def test_unknown_database_dialect_raises_audit_error() -> None:
    with pytest.raises(AuditError, match="cannot open audit store"):
        SqlAuditLog("nosuchdb://host/db")


def test_opening_without_create_refuses_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(AuditError, match="does not exist"):
        SqlAuditLog(f"sqlite:///{path}", create=False)
    assert not path.exists()


def test_opening_without_create_refuses_missing_tables(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (id INTEGER)"))
    engine.dispose()
    with pytest.raises(AuditError, match="audit tables missing: audit_head, audit_records"):
        SqlAuditLog(f"sqlite:///{path}", create=False)


def test_sqlite_log_uses_write_ahead_logging(sqlite_url: str) -> None:
    SqlAuditLog(sqlite_url).close()
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
