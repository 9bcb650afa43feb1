"""An attacker's view of the database files: raw bytes, as a copy of the disk shows them.

Nothing here uses the project's own readers: files are read whole, PostgreSQL through
``pg_dump`` and its data directory, and a value counts as found in plain text, base64
(at any alignment) or hex.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.faults.own_postgres import OwnPostgres, missing_tools


def encodings(value: str) -> set[bytes]:
    """The byte strings that give ``value`` away: plain, base64 (3 alignments), hex."""
    raw = value.encode("utf-8")
    found = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        # Drop the characters that depend on the neighbouring bytes.
        start, end = (shift * 4 + 2) // 3 + 1, len(encoded) - 4
        if end - start >= 8:
            found.add(encoded[start:end])
    return found


def findings(needles: Iterable[str], files: dict[str, bytes]) -> list[str]:
    """``"<needle> in <file>"`` for every needle found in any encoding in any file."""
    hits = []
    for needle in needles:
        patterns = encodings(needle)
        hits += [f"{needle!r} in {name}" for name, data in files.items() if _any(patterns, data)]
    return hits


def _any(patterns: set[bytes], data: bytes) -> bool:
    return any(pattern in data for pattern in patterns)


def sqlite_files(db_path: Path) -> dict[str, bytes]:
    """The database file and every companion (``-wal``, ``-shm``, ``-journal``)."""
    return {
        path.name: path.read_bytes()
        for path in db_path.parent.iterdir()
        if path.name.startswith(db_path.name) and path.is_file()
    }


def directory_files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (an export bundle)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file()
    }


def postgres_files(url: str) -> dict[str, bytes]:
    """``pg_dump`` of the URL's schema and every file of its database, after a CHECKPOINT."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            data_dir = Path(conn.execute(text("SHOW data_directory")).scalar_one())
            db_oid = conn.execute(
                text("SELECT oid FROM pg_database WHERE datname = current_database()")
            ).scalar_one()
    finally:
        engine.dispose()
    files = {"pg_dump": _pg_dump(url, schema)}
    database_dir = data_dir / "base" / str(db_oid)
    files |= {f"base/{db_oid}/{path.name}": path.read_bytes() for path in database_dir.iterdir()}
    return files


def _pg_dump(url: str, schema: str) -> bytes:
    parsed = make_url(url)
    command = [
        "pg_dump", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
        "-U", parsed.username or "postgres", "-n", schema, parsed.database or "postgres",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, check=True, timeout=120).stdout


def data_directory_readable(url: str) -> bool:
    """Whether this process can read the server's data directory (a local server)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            data_dir = Path(conn.execute(text("SHOW data_directory")).scalar_one())
    finally:
        engine.dispose()
    return os.access(data_dir / "base", os.R_OK | os.X_OK) and shutil.which("pg_dump") is not None


@contextlib.contextmanager
def own_postgres() -> Iterator[str]:
    """A throw-away server whose files this process can read (for a remote shared server)."""
    if (why := missing_tools()) is not None:
        raise RuntimeError(f"cannot read the server's files and cannot start one: {why}")
    server = OwnPostgres()
    try:
        server.create()
        server.start()
        yield server.url
    finally:
        server.destroy()
