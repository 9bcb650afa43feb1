"""Audit throughput: appends per second (1 writer, N writer processes), verified records/s."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firewall.audit.keyfiles import generate_key_pair
from firewall.audit.verify import Trust
from firewall.bench import audit_load
from firewall.bench.results import LoadResult
from firewall.bench.services import BenchSkip, Service
from firewall.bench.stats import Throughput
from firewall.testing.postgres import fresh_schema

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AuditLoad:
    """How much to write and verify."""

    calls: int = 500
    """Gate calls (two appends each) of the single writer."""
    writers: int = 8
    writer_calls: int = 125
    """Gate calls of each of the ``writers`` processes."""
    verify_records: int = 50_000


@dataclass(frozen=True)
class _Keys:
    key_file: Path
    trust: Trust


def audit_loads(load: AuditLoad, postgres: Service, progress: Progress) -> list[LoadResult]:
    """Every audit measurement, PostgreSQL ones skipped (with the reason) if it is away."""
    with tempfile.TemporaryDirectory(prefix="firewall-bench-") as tmp:
        key_file, public_file, _ = generate_key_pair(Path(tmp), "bench")
        keys = _Keys(key_file, Trust.from_files([public_file]))
        sqlite = f"sqlite:///{Path(tmp) / 'appends.db'}"
        sqlite_verify = f"sqlite:///{Path(tmp) / 'verify.db'}"
        measurements: list[tuple[str, Callable[[], Throughput]]] = [
            ("appends: SQLite, 1 writer", lambda: _one_writer(sqlite, keys, load.calls)),
            (
                "appends: PostgreSQL, 1 writer",
                lambda: _on_postgres(postgres, lambda url: _one_writer(url, keys, load.calls)),
            ),
            (
                f"appends: PostgreSQL, {load.writers} writer processes",
                lambda: _on_postgres(postgres, lambda url: _many_writers(url, keys, load)),
            ),
            ("verify: SQLite store", lambda: _verify(sqlite_verify, keys, load.verify_records)),
            (
                "verify: PostgreSQL store",
                lambda: _on_postgres(postgres, lambda url: _verify(url, keys, load.verify_records)),
            ),
        ]
        return [_measured(label, measure, progress) for label, measure in measurements]


def _measured(label: str, measure: Callable[[], Throughput], progress: Progress) -> LoadResult:
    progress(label)
    try:
        return LoadResult(label, throughput=measure())
    except BenchSkip as skip:
        return LoadResult(label, skipped=str(skip))


def _on_postgres(postgres: Service, measure: Callable[[str], Throughput]) -> Throughput:
    with fresh_schema(postgres.require(), "audit_bench") as url:
        return measure(url)


def _one_writer(url: str, keys: _Keys, calls: int) -> Throughput:
    seconds = audit_load.append_in_process(url, keys.key_file, calls)
    appends = audit_load.EVENTS_PER_CALL * calls
    _verified(url, keys, appends + audit_load.EVENTS_PER_CALL * audit_load.WARMUP_CALLS_PER_WRITER)
    return Throughput("1 writer", "appends", appends, seconds)


def _many_writers(url: str, keys: _Keys, load: AuditLoad) -> Throughput:
    seconds = audit_load.append_in_processes(url, keys.key_file, load.writers, load.writer_calls)
    appends = audit_load.EVENTS_PER_CALL * load.writers * load.writer_calls
    warmup = audit_load.EVENTS_PER_CALL * load.writers * audit_load.WARMUP_CALLS_PER_WRITER
    _verified(url, keys, appends + warmup)
    return Throughput(f"{load.writers} writers", "appends", appends, seconds)


def _verify(url: str, keys: _Keys, records: int) -> Throughput:
    written = audit_load.build_log(url, keys.key_file, records)
    report, seconds = audit_load.timed_verify(url, keys.trust)
    audit_load.checked(report, written)
    return Throughput("verify", "records", written, seconds)


def _verified(url: str, keys: _Keys, records: int) -> None:
    report, _ = audit_load.timed_verify(url, keys.trust)
    audit_load.checked(report, records)
