"""A SQLite store stays on the file its path named when it opened it (firewall.sqlite_files)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from firewall.errors import StoreError
from firewall.sqlite_files import checked_file, guard_sqlite_file


def guarded(path: Path, *, same_file_only: bool = True) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    guard = guard_sqlite_file(engine, "test database", StoreError, same_file_only=same_file_only)
    assert guard is not None
    return engine


def write(engine: Engine, value: int) -> None:
    """One committed insert, checked like every store's use."""
    with engine.connect() as conn, checked_file(conn), conn.begin():
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A guarded engine on a WAL database that already holds one row."""
    path = tmp_path / "store.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode = WAL")
    setup.close()
    engine = guarded(path)
    write(engine, 1)
    yield engine, path
    engine.dispose()


def test_a_deleted_database_is_an_error_naming_it_and_never_recreated(
    db: tuple[Engine, Path],
) -> None:
    engine, path = db
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreError, match=f"test database {path} was deleted"):
        write(engine, 2)
    with pytest.raises(StoreError, match="was deleted or moved away"):
        write(engine, 3)  # a new connection: the path is not created again
    assert not path.exists()


def test_a_file_renamed_over_the_database_is_refused_even_on_a_new_connection(
    db: tuple[Engine, Path],
) -> None:
    engine, path = db
    other = path.with_name("other.db")
    shutil.copyfile(path, other)
    os.replace(other, path)
    with pytest.raises(StoreError, match="was replaced by another file"):
        write(engine, 2)
    with pytest.raises(StoreError, match="not the file this store opened at start"):
        write(engine, 3)


def test_the_same_file_renamed_back_is_used_again(db: tuple[Engine, Path]) -> None:
    engine, path = db
    aside = path.with_name("aside.db")
    os.rename(path, aside)
    with pytest.raises(StoreError, match="moved away"):
        write(engine, 2)
    os.rename(aside, path)
    write(engine, 3)
    reader = sqlite3.connect(path)
    try:
        rows = [row[0] for row in reader.execute("SELECT x FROM t ORDER BY x")]
    finally:
        reader.close()
    # The refused write did land, in the same file: a refused write may have happened
    # (the audit log's refused decision then shows as an allowed call "in doubt").
    assert rows == [1, 2, 3]


def test_a_deleted_wal_is_noticed(db: tuple[Engine, Path]) -> None:
    engine, path = db
    Path(f"{path}-wal").unlink()
    with pytest.raises(StoreError, match="lost its -wal file"):
        write(engine, 2)


def test_a_deleted_shared_memory_file_is_noticed(db: tuple[Engine, Path]) -> None:
    engine, path = db
    Path(f"{path}-shm").unlink()
    with pytest.raises(StoreError, match="lost its -shm file"):
        write(engine, 2)


def test_a_database_truncated_in_place_is_noticed(db: tuple[Engine, Path]) -> None:
    """Same inode, fewer bytes. (What a later connection finds depends on what SQLite
    writes back from the WAL when the refused one closes: the audit log checks its head.)"""
    engine, path = db
    os.truncate(path, 0)
    with pytest.raises(StoreError, match=r"was truncated \(\d+ bytes before, 0 now\)"):
        write(engine, 2)


def test_the_audit_mode_pins_a_replacement_for_the_caller_to_judge(tmp_path: Path) -> None:
    """Without same_file_only the failing use is refused, the next connection takes the
    new file (the audit log then checks its signed head)."""
    path = tmp_path / "log.db"
    engine = guarded(path, same_file_only=False)
    write(engine, 1)
    other = path.with_name("other.db")
    shutil.copyfile(path, other)
    os.replace(other, path)
    with pytest.raises(StoreError, match="was replaced"):
        write(engine, 2)
    write(engine, 3)
    engine.dispose()


def test_memory_databases_and_other_backends_are_not_guarded() -> None:
    engine = create_engine("sqlite://")
    assert guard_sqlite_file(engine, "x", StoreError, same_file_only=True) is None
    with engine.connect() as conn, checked_file(conn):
        conn.execute(text("SELECT 1"))
    engine.dispose()
