"""Per-call overhead of an allowed guarded call next to the bare call, in one run.

    python benchmarks/guarded_call.py [--calls 2000]

Embedded defaults: regopy policy, memory rate limits, SQLite audit (in a temp dir).
Bare and guarded calls alternate, so both see the same machine noise. The same two
scenarios, and more, are measured by ``firewall bench`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse

from firewall.bench import guarded as variants
from firewall.bench.runner import WARMUP_CALLS, interleaved
from firewall.bench.scenarios import BARE, EMBEDDED, Scenario
from firewall.bench.stats import Latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    calls = parser.parse_args().calls
    chosen = [
        Scenario(BARE, "bare", variants.bare),
        Scenario(EMBEDDED, "guarded", variants.embedded),
    ]
    samples = interleaved(chosen, calls, WARMUP_CALLS).samples
    bare, guarded = Latency.of(samples[BARE]), Latency.of(samples[EMBEDDED])
    print(f"{'':10} {'median µs':>10} {'p99 µs':>10}  ({calls} calls each, alternating)")
    for name, latency in (("bare", bare), ("guarded", guarded)):
        print(f"{name:10} {latency.median_us:10.1f} {latency.p99_us:10.1f}")
    print(f"added by the firewall (median): {guarded.median_us - bare.median_us:.1f} µs")


if __name__ == "__main__":
    main()
