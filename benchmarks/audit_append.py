"""Appends per second into the audit log: one SQLite writer, N PostgreSQL writer processes.

    python benchmarks/audit_append.py --backend sqlite --calls 2000
    python benchmarks/audit_append.py --backend postgres --writers 8 --calls 1000
    python benchmarks/audit_append.py --backend postgres --writers 8 --threads 4 --calls 250

Each call appends what the gate appends: a decision (with a personal argument and the
customer as data subject) and then an outcome, one ``append`` each, so every append is
durable before the next starts. ``--threads`` runs that many callers per process (a web
worker serving concurrent requests). Prints appends/s over the measured window: writers
start together after one warm-up call each; process start-up and shutdown are excluded.
The code lives in :mod:`firewall.bench.audit_load` (also run by ``firewall bench``).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from firewall.audit.keyfiles import generate_key_pair
from firewall.audit.verify import Trust, verify_store
from firewall.bench.audit_load import EVENTS_PER_CALL, append_in_processes
from firewall.bench.services import fresh_schema, postgres


@contextlib.contextmanager
def log_url(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'audit.db'}"
        return
    with fresh_schema(postgres().require(), "audit_bench") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--writers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=1000, help="gate calls per caller")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        key_file, public_file, _ = generate_key_pair(Path(tmp), "bench")
        with log_url(options.backend, Path(tmp)) as url:
            elapsed = append_in_processes(
                url, key_file, options.writers, options.calls, options.threads
            )
            report = verify_store(url, Trust.from_files([public_file]))
    appends = EVENTS_PER_CALL * options.writers * options.threads * options.calls
    print(
        f"{options.backend}: {options.writers} writer(s) x {options.threads} thread(s): "
        f"{appends} appends in {elapsed:.1f}s = {appends / elapsed:,.0f} appends/s; "
        f"verify: {report.status} ({report.records_checked} records)"
    )


if __name__ == "__main__":
    main()
