"""Cost of personal-data detection and tokenization per KB of tool output, in one run.

    python benchmarks/pii_cost.py [--kb 64] [--rounds 20]

Three kinds of tool output, each about ``--kb`` KB: support-ticket prose with a few
emails and phone numbers, a JSON list of CRM records (email, phone, card on file per
record), and number-dense text (order lines full of ids, dates, amounts: candidates the
phone and card recognizers must look at and reject). For each: detection alone
(``Detector.find``), tokenization of the output as the model will see it
(``Privacy.protect_output``), and the way back (``Privacy.restore_args`` on the tokens).
Variants alternate within each round so all see the same machine noise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from firewall.pii.detect import Detector
from firewall.pii.privacy import Privacy
from firewall.types import Principal, ToolCall, ToolSpec

AGENT = Principal(agent_id="bench", tenant="acme")
SPEC = ToolSpec(name="crm_lookup", scope="crm:read")


def prose(kb: int) -> str:
    paragraph = (
        "Customer wrote in about a late parcel and asked us to call back on +1 415 555 0134 "
        "or to email ada.lovelace@example.com. She has been a customer since 2019 and her "
        "last three orders arrived on time; this one shows no scan since Tuesday. "
    )
    return (paragraph * (kb * 1024 // len(paragraph) + 1))[: kb * 1024]


def records(kb: int) -> str:
    rows, size, n = [], 0, 0
    while size < kb * 1024:
        row = {
            "customer_id": f"c-{n:05d}",
            "name": "Ada Lovelace",
            "email": f"ada{n}@example.com",
            "phone": "+44 20 7946 0958",
            "card_on_file": "4111 1111 1111 1111",
            "tier": "gold",
        }
        rows.append(row)
        size += len(json.dumps(row))
        n += 1
    return json.dumps(rows)


def number_dense(kb: int) -> str:
    line = "order 20261123-0042 qty 3 sku 8801234567 total 129.95 ship 2026-11-30 ref 55512345\n"
    return (line * (kb * 1024 // len(line) + 1))[: kb * 1024]


def timed_us(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1000


def measure(text: str, rounds: int) -> dict[str, float]:
    detector, privacy = Detector(), Privacy()
    call = ToolCall(tool="crm_lookup", args={}, principal=AGENT, session_id="bench")
    shown = privacy.protect_output(call, SPEC, text)
    back = call.model_copy(update={"args": {"text": shown}})
    variants: dict[str, Callable[[], object]] = {
        "detect": lambda: detector.find(text),
        "tokenize": lambda: privacy.protect_output(call, SPEC, text),
        "restore": lambda: privacy.restore_args(back),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            samples[name].append(timed_us(fn))
    kb = len(text.encode()) / 1024
    return {name: statistics.median(values) / kb for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    print(f"µs per KB of tool output (median of {options.rounds} rounds, {options.kb} KB each)")
    print(f"{'output':14} {'detect':>10} {'tokenize':>10} {'restore':>10}")
    for name, make in (
        ("ticket prose", prose),
        ("CRM records", records),
        ("number-dense", number_dense),
    ):
        cost = measure(make(options.kb), options.rounds)
        print(f"{name:14} {cost['detect']:10.1f} {cost['tokenize']:10.1f} {cost['restore']:10.1f}")


if __name__ == "__main__":
    main()
