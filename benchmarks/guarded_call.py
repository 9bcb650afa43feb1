"""Per-call overhead of an allowed guarded call next to the bare call, in one run.

    python benchmarks/guarded_call.py [--calls 2000]

Embedded defaults: regopy policy, memory rate limits, SQLite audit (in a temp dir).
Bare and guarded calls alternate, so both see the same machine noise.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.keyfiles import ensure_dev_key
from firewall.audit.store import SqlAuditLog
from firewall.gate import Firewall
from firewall.policy.embedded import RegoEngine
from firewall.types import Principal, ToolCall, ToolSpec

POLICY_DIR = Path(__file__).parents[1] / "policies" / "rego"
AGENT = Principal(agent_id="bench", tenant="acme", scopes=frozenset({"crm:read"}))
SCHEMA = {
    "type": "object",
    "properties": {"customer_id": {"type": "string"}},
    "required": ["customer_id"],
}


def lookup() -> dict[str, str]:
    """The bare tool: an in-memory CRM read."""
    return {"customer_id": "c-100", "tenant": "acme"}


def build(data_dir: Path) -> Firewall:
    url = f"sqlite:///{data_dir / 'bench.db'}"
    ensure_dev_key(data_dir)
    audit = SqlAuditLog(url)
    return Firewall(
        tools=[ToolSpec(name="crm_lookup", scope="crm:read", args_schema=SCHEMA)],
        policy=RegoEngine(POLICY_DIR),
        audit=audit,
        approvals=ApprovalService(SqlApprovalStore(url), audit, {}),
        facts={"crm_lookup": lambda _call: {"customer": {"id": "c-100", "tenant": "acme"}}},
    )


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1000


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory() as tmp:
        firewall = build(Path(tmp))
        args = {"customer_id": "c-100"}

        def guarded() -> object:
            call = ToolCall(tool="crm_lookup", args=args, principal=AGENT)
            return firewall.run(call, lookup)

        for _ in range(50):
            guarded()
        bare_us, guarded_us = [], []
        for _ in range(calls):
            bare_us.append(timed(lookup))
            guarded_us.append(timed(guarded))
    print(f"{'':10} {'median µs':>10} {'p99 µs':>10}  ({calls} calls each, alternating)")
    for name, samples in (("bare", bare_us), ("guarded", guarded_us)):
        print(f"{name:10} {statistics.median(samples):10.1f} {percentile(samples, 0.99):10.1f}")
    added = statistics.median(guarded_us) - statistics.median(bare_us)
    print(f"added by the firewall (median): {added:.1f} µs")


if __name__ == "__main__":
    main()
