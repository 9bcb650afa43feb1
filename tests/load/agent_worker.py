"""Run in a spawned process: one agent making its planned calls through a real firewall.

It reports one JSON line per call to ``worker-<n>.jsonl``: the call id, its kind and
amount, the result (``executed``, ``denied`` with the code, or ``raised``), whether the
tool body ran, and the hold id if the call was held.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from firewall.approvals.redis_notify import RedisNotifier
from firewall.audit.store import SqlAuditLog
from firewall.factory import build_firewall
from firewall.gate import Executed, Firewall
from firewall.types import Deny, Hold, ToolCall
from tests.load.workload import LoadSetup, PlannedCall, facts, firewall_config, plan


def report_path(setup: LoadSetup, worker: int) -> Path:
    """Where worker ``worker`` writes its JSON lines."""
    return setup.out_dir / f"worker-{worker}.jsonl"


def run_agent(setup: LoadSetup, worker: int, calls: int) -> None:
    """Make ``calls`` planned calls, sequentially, reporting each."""
    firewall = build_firewall(firewall_config(setup), facts=facts())
    notifier = RedisNotifier(setup.redis_url, prefix=setup.notify_prefix)
    firewall.approvals.notifier = notifier  # woken at once when the approver decides
    try:
        with open(report_path(setup, worker), "w", encoding="utf-8") as out:
            for planned in plan(worker, calls):
                _report(out, _make(firewall, planned))
    finally:
        firewall.close()
        notifier.close()
        if isinstance(firewall.audit, SqlAuditLog):
            firewall.audit.close()


def _make(firewall: Firewall, planned: PlannedCall) -> dict[str, Any]:
    call = planned.call
    ran: list[str] = []
    line: dict[str, Any] = {
        "call_id": call.call_id,
        "kind": planned.kind,
        "amount": str(planned.amount),
    }
    try:
        result = firewall.run(call, lambda: ran.append(call.call_id))
    except Exception as exc:  # noqa: BLE001 - reported, so the test shows what broke
        return line | {"result": "raised", "error": repr(exc), "ran": bool(ran)}
    line["ran"] = bool(ran)
    if isinstance(result, Executed):
        return line | {"result": "executed", "hold_id": result.hold_id}
    if isinstance(result, Hold):  # never with hold_mode "wait"
        return line | {"result": "held", "hold_id": result.hold_id}
    return line | _denial(firewall, call, result)


def _denial(firewall: Firewall, call: ToolCall, denial: Deny) -> dict[str, Any]:
    hold = firewall.approvals.for_call(call.key)
    return {
        "result": "denied",
        "code": denial.code.value,
        "hold_id": hold.hold_id if hold else None,
    }


def _report(out: IO[str], line: dict[str, Any]) -> None:
    out.write(json.dumps(line) + "\n")
    out.flush()
