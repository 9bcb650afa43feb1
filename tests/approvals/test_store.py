"""SqlApprovalStore on SQLite and PostgreSQL: round trips, CAS, and errors as StoreError."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    text,
)

from firewall.approvals import HoldRecord, HoldState, SqlApprovalStore
from firewall.errors import ConfigError, DuplicateCallError, StoreError
from tests.approvals.helpers import T0, TTL, make_call, make_hold


def _create_old_table(url: str) -> None:
    """The table (and its indexes) as versions before tenant-scoped call ids created it."""
    old = MetaData()
    table = Table(
        "approval_holds",
        old,
        Column("hold_id", String(128), primary_key=True),
        *(Column(name, String(128)) for name in ("call_id", "digest", "tool", "approvers")),
        *(Column(name, Text) for name in ("args", "principal", "reasons", "approvals")),
        *(Column(name, Text) for name in ("decided_by", "money_arg", "state", "decision_reason")),
        *(Column(name, Integer) for name in ("quorum", "version")),
        *(Column(name, DateTime) for name in ("created_at", "expires_at", "decided_at")),
    )
    Index("ix_approval_holds_state", table.c.state)
    Index("ix_approval_holds_call_id", table.c.call_id)
    engine = create_engine(url)
    old.create_all(engine)
    engine.dispose()


def _readme_sql(heading: str) -> list[str]:
    """The statements of the first SQL block under ``heading`` in the README."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(heading) :]
    block = section[section.index("```sql") + len("```sql") : section.index("```\n\n")]
    return [statement.strip() for statement in block.split(";") if statement.strip()]


def _record(created_at: datetime = T0, **hold_options: Any) -> HoldRecord:
    call = make_call(amount=250, note="ünïcode ✓")
    hold = make_hold(call, expires_at=created_at + TTL, **hold_options)
    return HoldRecord.from_call(call, hold, created_at, money_arg="amount")


def _execute(url: str, statement: str) -> None:
    """Run ``statement`` behind the store's back."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_created_hold_reads_back_equal(store: SqlApprovalStore) -> None:
    record = _record(quorum=2)
    store.create(record)
    assert store.get(record.hold_id) == record


def test_times_read_back_as_aware_utc(store: SqlApprovalStore) -> None:
    record = _record(created_at=T0.astimezone(timezone(timedelta(hours=-5))))
    store.create(record)
    stored = store.get(record.hold_id)
    assert stored is not None
    assert stored.created_at.utcoffset() == timedelta(0)
    assert (stored.created_at, stored.expires_at) == (T0, T0 + TTL)


def test_unknown_hold_is_none(store: SqlApprovalStore) -> None:
    assert store.get("hold_missing") is None


def test_list_filters_by_state_oldest_first(store: SqlApprovalStore) -> None:
    newer, older, denied = _record(T0 + TTL), _record(T0), _record(T0 - TTL)
    for record in (newer, older, denied):
        store.create(record)
    assert store.compare_and_set(denied, denied.with_denial("carol", None, T0))
    assert [r.hold_id for r in store.list(HoldState.PENDING)] == [older.hold_id, newer.hold_id]
    assert [r.hold_id for r in store.list()] == [denied.hold_id, older.hold_id, newer.hold_id]
    assert store.list(HoldState.EXECUTED) == []


def test_compare_and_set_wins_once_per_version(store: SqlApprovalStore) -> None:
    record = _record()
    store.create(record)
    approved = record.with_approval("alice", T0)
    assert store.compare_and_set(record, approved)
    assert not store.compare_and_set(record, record.with_denial("carol", "late", T0))
    assert store.get(record.hold_id) == approved


def test_compare_and_set_of_an_unknown_hold_loses(store: SqlApprovalStore) -> None:
    record = _record()
    assert not store.compare_and_set(record, record.with_approval("alice", T0))


def test_compare_and_set_refuses_to_change_what_was_asked(store: SqlApprovalStore) -> None:
    record = _record()
    store.create(record)
    tampered = record.with_approval("alice", T0).model_copy(update={"args": {"amount": 9999}})
    with pytest.raises(ValueError, match="only the decision fields"):
        store.compare_and_set(record, tampered)
    assert store.get(record.hold_id) == record


def test_compare_and_set_requires_the_next_version(store: SqlApprovalStore) -> None:
    record = _record()
    store.create(record)
    with pytest.raises(ValueError, match="new version must be 1"):
        store.compare_and_set(record, record.model_copy(update={"state": HoldState.APPROVED}))


def test_duplicate_hold_id_is_a_store_error(store: SqlApprovalStore) -> None:
    record = _record()
    store.create(record)
    with pytest.raises(StoreError, match="approval store failed"):
        store.create(record)


def test_two_stores_on_one_database_see_each_others_changes(db_url: str) -> None:
    record = _record()
    with SqlApprovalStore(db_url) as first, SqlApprovalStore(db_url) as second:
        first.create(record)
        assert second.compare_and_set(record, record.with_approval("alice", T0))
        assert first.get(record.hold_id) == record.with_approval("alice", T0)


def test_dropped_table_is_a_store_error(store: SqlApprovalStore, db_url: str) -> None:
    _execute(db_url, "DROP TABLE approval_holds")
    with pytest.raises(StoreError, match="approval_holds"):
        store.get("hold_x")


def test_malformed_stored_hold_is_a_store_error_naming_the_field(
    store: SqlApprovalStore, db_url: str
) -> None:
    record = _record()
    store.create(record)
    _execute(db_url, "UPDATE approval_holds SET state = 'maybe'")
    with pytest.raises(StoreError, match=r"malformed at: state"):
        store.get(record.hold_id)


def test_unreachable_postgres_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="approval store failed: OperationalError"):
        SqlApprovalStore("postgresql+psycopg://postgres@127.0.0.1:1/test")


def test_unopenable_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unable to open"):
        SqlApprovalStore(f"sqlite:///{tmp_path / 'missing' / 'approvals.db'}")


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"approvals\.url"):
        SqlApprovalStore("not a url")


def test_sqlite_file_uses_wal(sqlite_url: str) -> None:
    SqlApprovalStore(sqlite_url).close()
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_in_memory_sqlite_is_shared_by_threads() -> None:
    record = _record()
    seen: list[HoldRecord | None] = []
    with SqlApprovalStore("sqlite://") as store:
        store.create(record)
        reader = threading.Thread(target=lambda: seen.append(store.get(record.hold_id)))
        reader.start()
        reader.join()
    assert seen == [record]


def test_a_second_hold_for_the_same_scoped_call_id_is_a_duplicate_call_error(
    store: SqlApprovalStore,
) -> None:
    first = _record()
    store.create(first)
    call = make_call(amount=999).model_copy(update={"call_id": first.call_id})
    second = HoldRecord.from_call(call, make_hold(call, expires_at=T0 + TTL), T0)
    with pytest.raises(DuplicateCallError) as info:
        store.create(second)
    assert info.value.hold_id == first.hold_id
    assert [r.hold_id for r in store.list()] == [first.hold_id]


def test_for_call_finds_only_the_hold_of_its_own_tenant_session_and_agent(
    store: SqlApprovalStore,
) -> None:
    record = _record()
    store.create(record)
    assert store.for_call(record.key) == record
    for other in ({"tenant": "globex"}, {"session_id": "s-2"}, {"agent_id": "other-bot"}):
        assert store.for_call(record.key.model_copy(update=other)) is None


def test_scope_columns_that_disagree_with_the_principal_are_malformed(
    store: SqlApprovalStore, db_url: str
) -> None:
    record = _record()
    store.create(record)
    _execute(db_url, "UPDATE approval_holds SET tenant = 'globex'")
    with pytest.raises(StoreError, match=r"malformed at: tenant"):
        store.get(record.hold_id)


def test_a_table_from_before_scoped_call_ids_is_refused_with_a_migration_hint(
    db_url: str,
) -> None:
    _create_old_table(db_url)
    with pytest.raises(StoreError, match=r"lacks the column\(s\) tenant, session_id, agent_id;"):
        SqlApprovalStore(db_url)


def test_the_readmes_upgrade_steps_give_a_working_store_with_the_unique_index(
    db_url: str,
) -> None:
    _create_old_table(db_url)
    for statement in _readme_sql("## Upgrading a database"):
        _execute(db_url, statement)
    record = _record()
    with SqlApprovalStore(db_url) as store:
        store.create(record)
        assert store.for_call(record.key) == record
    engine = create_engine(db_url)
    indexes = {
        index["name"]: index["unique"] for index in inspect(engine).get_indexes("approval_holds")
    }
    engine.dispose()
    assert indexes["ux_approval_holds_scoped_call"]
    assert "ix_approval_holds_state" in indexes
