"""``erase`` vouches for the database files, or says NOT DONE and exits non-zero."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from firewall.audit import scrub
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.scrub import scrub_files
from firewall.audit.store import SqlAuditLog
from firewall.cli.audit import app
from tests.audit.tampering import EVENTS

runner = CliRunner()


def test_erase_with_a_reader_holding_the_wal_says_not_done_and_exits_1(
    sqlite_url: str,
    writer_keys: WriterKeys,
    key_files: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scrub, "SQLITE_BUSY_TIMEOUT_MS", 200)
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        log.append_many(EVENTS)
    reader = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM audit_subjects").fetchall()  # a snapshot
        result = runner.invoke(
            app,
            ["erase", "--subject", EVENTS[0].principal["on_behalf_of"], "--db", sqlite_url,
             "--key-file", str(key_files[0])],
        )  # fmt: skip
    finally:
        reader.close()
    assert result.exit_code == 1, result.output
    assert "blocked by a reader" in result.output
    assert "NOT DONE" in result.output
    again = runner.invoke(
        app,
        ["erase", "--subject", EVENTS[0].principal["on_behalf_of"], "--db", sqlite_url,
         "--key-file", str(key_files[0])],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert again.output.strip().endswith("gone from these database files")


def test_erase_reports_what_it_did_and_where_it_looked(
    sqlite_url: str, writer_keys: WriterKeys, key_files: tuple[Path, Path]
) -> None:
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        log.append_many(EVENTS)
    path = sqlite_url.removeprefix("sqlite:///")
    result = runner.invoke(
        app,
        ["erase", "--subject", EVENTS[0].principal["on_behalf_of"], "--db", sqlite_url,
         "--key-file", str(key_files[0])],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"looked at: {path}, {path}-wal, {path}-journal" in result.output
    assert "VACUUM rebuilt the file" in result.output
    assert "not reached by erase: backups" in result.output
    wal = Path(path + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


@pytest.fixture
def stranger_url(pg_url: str) -> Iterator[str]:
    """The same schema, seen by a role that may read and write but does not own the tables."""
    role = f"fw_stranger_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    schema_of = "SELECT current_schema()"
    with admin.connect() as conn:
        schema = conn.execute(text(schema_of)).scalar_one()
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
        conn.execute(text(f'GRANT ALL ON ALL TABLES IN SCHEMA "{schema}" TO {role}'))
    try:
        yield make_url(pg_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


@pytest.mark.postgres
def test_a_vacuum_postgres_skips_for_a_non_owner_is_not_done(
    pg_url: str, writer_keys: WriterKeys, stranger_url: str
) -> None:
    with SqlAuditLog(pg_url, keys=writer_keys) as log:
        log.append_many(EVENTS)
        log.erase(str(EVENTS[0].principal["on_behalf_of"]))  # type: ignore[index]
    engine = create_engine(stranger_url)
    try:
        report = scrub_files(engine, ["audit_subjects"])
    finally:
        engine.dispose()
    assert not report.complete
    assert report.problems == ["VACUUM (FULL) audit_subjects did not rewrite it (not its owner?)"]


@pytest.mark.postgres
def test_postgres_erasure_rewrites_the_key_tables(pg_url: str, writer_keys: WriterKeys) -> None:
    with SqlAuditLog(pg_url, keys=writer_keys) as log:
        log.append_many(EVENTS)
        log.erase(str(EVENTS[0].principal["on_behalf_of"]))  # type: ignore[index]
        report = log.scrub_files()
    assert report.complete, report.problems
    assert [step.split(":")[0] for step in report.done] == [
        "VACUUM (FULL) audit_subjects",
        "VACUUM (FULL) audit_personal",
        "CHECKPOINT",
    ]
