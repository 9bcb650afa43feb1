"""Verified records per second: a SQLite log and its exported bundle.

    python benchmarks/audit_verify.py --records 200000

Builds a log of gate-like decision/outcome records (appended in batches, which does not
change what is verified), then times ``verify_store`` and ``verify_bundle``: every hash,
link, sequence number, the Merkle tree and every checkpoint signature. The code lives in
:mod:`firewall.bench.audit_load` (also run by ``firewall bench``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from firewall.audit.keyfiles import generate_key_pair
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_bundle
from firewall.bench.audit_load import build_log, timed_verify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    records = parser.parse_args().records
    with tempfile.TemporaryDirectory() as tmp:
        key_file, public_file, _ = generate_key_pair(Path(tmp), "bench")
        url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        build_log(url, key_file, records)
        trust = Trust.from_files([public_file])
        report, database_s = timed_verify(url, trust)
        with SqlAuditLog(url, create=False) as log:
            log.export(Path(tmp) / "bundle")
        started = time.perf_counter()
        bundle_report = verify_bundle(Path(tmp) / "bundle", trust)
        bundle_s = time.perf_counter() - started
    for name, result, seconds in (
        ("sqlite", report, database_s),
        ("bundle", bundle_report, bundle_s),
    ):
        print(
            f"{name}: {result.status}, {result.records_checked} records, "
            f"{result.checkpoints_checked} checkpoints in {seconds:.2f}s = "
            f"{result.records_checked / seconds:,.0f} verified records/s"
        )


if __name__ == "__main__":
    main()
