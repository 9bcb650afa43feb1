"""Audit throughput: every log written is verified, PostgreSQL rows skip when it is away."""

from __future__ import annotations

import pytest

from firewall.bench import services
from firewall.bench.audit_runs import AuditLoad, audit_loads

TINY = AuditLoad(calls=3, writers=2, writer_calls=2, verify_records=40)
AWAY = services.Service("PostgreSQL", "postgresql+psycopg://x@127.0.0.1:1/x", "refused")


def test_without_postgres_sqlite_is_measured_and_postgres_rows_say_why() -> None:
    phases: list[str] = []
    results = audit_loads(TINY, AWAY, phases.append)
    assert phases == [result.label for result in results]
    by_label = {result.label: result for result in results}
    sqlite = by_label["appends: SQLite, 1 writer"].throughput
    assert sqlite is not None
    assert (sqlite.count, sqlite.unit) == (6, "appends")
    verified = by_label["verify: SQLite store"].throughput
    assert verified is not None
    assert (verified.count, verified.unit) == (40, "records")
    skipped = [result for result in results if "PostgreSQL" in result.label]
    assert len(skipped) == 3
    assert all((r.skipped or "").startswith("PostgreSQL unreachable at") for r in skipped)


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_appends_from_writer_processes_are_counted_and_verified(
    postgres_url: str,
) -> None:
    results = audit_loads(TINY, services.postgres(postgres_url), lambda _: None)
    counts = {r.label: (r.throughput.count if r.throughput else r.skipped) for r in results}
    assert counts == {
        "appends: SQLite, 1 writer": 6,
        "appends: PostgreSQL, 1 writer": 6,
        "appends: PostgreSQL, 2 writer processes": 8,
        "verify: SQLite store": 40,
        "verify: PostgreSQL store": 40,
    }
