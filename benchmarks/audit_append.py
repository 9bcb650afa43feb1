"""Appends per second into the audit log: one SQLite writer, N PostgreSQL writer processes.

    python benchmarks/audit_append.py --backend sqlite --calls 2000
    python benchmarks/audit_append.py --backend postgres --writers 8 --calls 1000
    python benchmarks/audit_append.py --backend postgres --writers 8 --threads 4 --calls 250

Each call appends what the gate appends: a decision (with a personal argument and the
customer as data subject) and then an outcome, one ``append`` each, so every append is
durable before the next starts. ``--threads`` runs that many callers per process (a web
worker serving concurrent requests). Prints appends/s over the whole run, process
start-up excluded (workers start together on a barrier).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from audit_common import gate_events, postgres_schema

from firewall.audit.keyfiles import WriterKeys, generate_key_pair
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_store


def writer(
    *, url: str, key_file: str, worker: int, threads: int, calls: int, barrier: object
) -> None:
    """One writer process: ``threads`` callers, ``calls`` gate calls each."""
    with SqlAuditLog(url, keys=WriterKeys.from_file(Path(key_file))) as log:
        log.append_many([])

        def caller(thread: int) -> None:
            for call in range(calls):
                for event in gate_events(worker * 1000 + thread, call):
                    log.append(event)

        barrier.wait()  # type: ignore[attr-defined]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(caller, range(threads)))


def run(url: str, key_file: Path, writers: int, threads: int, calls: int) -> float:
    """Seconds for every writer to finish, from the moment they all start."""
    SqlAuditLog(url, keys=WriterKeys.from_file(key_file)).close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    processes = [
        context.Process(
            target=writer,
            kwargs={
                "url": url,
                "key_file": str(key_file),
                "worker": n,
                "threads": threads,
                "calls": calls,
                "barrier": barrier,
            },
        )
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    if any(process.exitcode for process in processes):
        raise SystemExit("a writer failed")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--writers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=1000, help="gate calls per caller")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        key_file, public_file, _ = generate_key_pair(Path(tmp), "bench")
        if options.backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'audit.db'}"
            elapsed = run(url, key_file, options.writers, options.threads, options.calls)
            report = verify_store(url, Trust.from_files([public_file]))
        else:
            with postgres_schema() as url:
                elapsed = run(url, key_file, options.writers, options.threads, options.calls)
                report = verify_store(url, Trust.from_files([public_file]))
    appends = 2 * options.writers * options.threads * options.calls
    print(
        f"{options.backend}: {options.writers} writer(s) x {options.threads} thread(s): "
        f"{appends} appends in {elapsed:.1f}s = {appends / elapsed:,.0f} appends/s; "
        f"verify: {report.status} ({report.records_checked} records)"
    )


if __name__ == "__main__":
    main()
