"""Does the audit log account for every reported call exactly once?

"Exactly once", per call (``trail`` = the call's audit records, in chain order):

* a call decided at once has exactly one ``decision`` record, ``allow`` or ``deny``;
* a held call has exactly one ``decision`` ``hold`` (naming its hold), one
  ``hold_created``, one ``hold_decided`` ``approved`` or ``denied`` (by the approver) and
  then exactly one final ``decision``: ``allow`` after one ``hold_decided`` ``executed``
  (the approval used once), or ``deny`` (``approval_denied``);
* a call whose tool ran has exactly one ``outcome`` ``ok``, after its final ``allow``;
  any other call has none;
* nothing else: no refusals, no record of a call no worker made.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from firewall.audit.records import AuditRecord
from tests.load.workload import APPROVER

Step = tuple[str, str | None]
HOLD = "decision", "hold"
CREATED = "hold_created", None
EXECUTED = "hold_decided", "executed"
ALLOW, DENY, OK = ("decision", "allow"), ("decision", "deny"), ("outcome", "ok")
APPROVED, DENIED = ("hold_decided", "approved"), ("hold_decided", "denied")

# The exact records of each kind of call, and the orders among them that must hold. Only
# the agent's own records are ordered: the approver writes its decision to the store
# first and to the audit log after, so the agent may act on it (and audit that) before
# the approver's record lands, and the approver may decide before "hold_created" lands.
EXPECTED: dict[str, tuple[tuple[Step, ...], tuple[tuple[Step, Step], ...]]] = {
    "allowed": ((ALLOW, OK), ((ALLOW, OK),)),
    "denied": ((DENY,), ()),
    "approved": (
        (CREATED, HOLD, APPROVED, EXECUTED, ALLOW, OK),
        ((CREATED, HOLD), (HOLD, EXECUTED), (EXECUTED, ALLOW), (ALLOW, OK)),
    ),
    "rejected": ((CREATED, HOLD, DENIED, DENY), ((CREATED, HOLD), (HOLD, DENY))),
}


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines a worker process wrote."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def trails(records: Iterable[AuditRecord]) -> dict[str | None, list[AuditRecord]]:
    """Audit records grouped by call id, each group in chain order."""
    grouped: dict[str | None, list[AuditRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda record: record.seq):
        grouped[record.call_id].append(record)
    return dict(grouped)


def shape(report: dict[str, Any]) -> str:
    """Which row of ``EXPECTED`` a worker's report of one call must match."""
    executed = report["result"] == "executed"
    if report.get("hold_id"):
        return "approved" if executed else "rejected"
    return "allowed" if executed else "denied"


def accounting_problems(
    reports: list[dict[str, Any]], grouped: dict[str | None, list[AuditRecord]]
) -> list[str]:
    """Every way the audit fails to account for the reported calls exactly once."""
    unreported = {call_id for call_id in grouped if call_id is not None}
    unreported -= {report["call_id"] for report in reports}
    problems = [f"call {call_id!r} was audited but no worker made it" for call_id in unreported]
    problems += [f"record without a call: {r.event} seq {r.seq}" for r in grouped.get(None, [])]
    for report in reports:
        problems += call_problems(report, grouped.get(report["call_id"], []))
    return problems


def call_problems(report: dict[str, Any], trail: list[AuditRecord]) -> list[str]:
    """What is wrong with one call's trail, given what its worker says happened."""
    call_id, kind = report["call_id"], shape(report)
    steps = [(record.event, record.outcome) for record in trail]
    wanted, orders = EXPECTED[kind]
    if Counter(steps) != Counter(wanted):
        return [f"{call_id} ({kind}): audited {steps}, expected once each {list(wanted)}"]
    seq = {step: record.seq for step, record in zip(steps, trail, strict=True)}
    problems = [f"{call_id}: {before} not before {after}"
                for before, after in orders if seq[before] > seq[after]]  # fmt: skip
    return problems + _detail_problems(report, kind, dict(zip(steps, trail, strict=True)))


def _detail_problems(
    report: dict[str, Any], kind: str, by_step: dict[Step, AuditRecord]
) -> list[str]:
    call_id, problems = report["call_id"], []
    if report["ran"] != (kind in ("allowed", "approved")):
        problems.append(f"{call_id}: the tool ran={report['ran']} but the result is {kind}")
    if kind in ("denied", "rejected") and by_step[DENY].code != report["code"]:
        problems.append(f"{call_id}: audited code {by_step[DENY].code}, got {report['code']}")
    if kind in ("approved", "rejected"):
        holds = {by_step[step].details.get("hold_id") for step in (CREATED, HOLD)}
        decided = by_step[APPROVED if kind == "approved" else DENIED]
        holds.add(decided.details.get("hold_id"))
        if holds != {report["hold_id"]}:
            problems.append(f"{call_id}: hold ids {holds}, reported {report['hold_id']}")
        if decided.details.get("approver") != APPROVER:
            problems.append(f"{call_id}: decided by {decided.details.get('approver')}")
    return problems
