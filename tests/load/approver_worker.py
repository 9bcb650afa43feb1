"""Run in a spawned process: the supervisor, deciding every pending hold until told to stop.

It wakes on every hold change announced through Redis (or after ``poll_s``), reads the
pending holds from the shared store, approves or denies each as the script says, and
writes one JSON line per decision (or refusal) to ``approver.jsonl``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import IO

from firewall.approvals.models import HoldRecord
from firewall.approvals.redis_notify import RedisNotifier
from firewall.approvals.service import ApprovalService
from firewall.audit.store import SqlAuditLog
from firewall.errors import FirewallError
from firewall.factory import approval_service
from tests.load.workload import APPROVER, LoadSetup, approver_verdict, firewall_config


def approver_report(setup: LoadSetup) -> Path:
    """Where the approver writes its JSON lines."""
    return setup.out_dir / "approver.jsonl"


def run_approver(setup: LoadSetup, stop: Event, poll_s: float) -> None:
    """Decide pending holds until ``stop`` is set, then decide what is left once more."""
    config = firewall_config(setup)
    url = config.storage.audit()
    audit = SqlAuditLog(url, keys=config.audit.writer_keys(url))
    notifier = RedisNotifier(setup.redis_url, prefix=setup.notify_prefix)
    service = approval_service(config, audit)
    service.notifier = notifier
    try:
        with (
            open(approver_report(setup), "w", encoding="utf-8") as out,
            notifier.subscribe(None) as wakeup,
        ):
            while not stop.is_set():
                _decide_pending(service, out)
                wakeup.wait(poll_s)
            _decide_pending(service, out)
    finally:
        notifier.close()
        audit.close()


def _decide_pending(service: ApprovalService, out: IO[str]) -> None:
    for hold in service.pending():
        _report(out, hold, _decide(service, hold))


def _decide(service: ApprovalService, hold: HoldRecord) -> str:
    verdict = approver_verdict(Decimal(str(hold.amount)))
    try:
        if verdict == "approve":
            service.approve(hold.hold_id, APPROVER)
        else:
            service.deny(hold.hold_id, APPROVER, "not eligible")
    except FirewallError as exc:  # reported: the test expects none
        return f"refused: {exc}"
    return verdict


def _report(out: IO[str], hold: HoldRecord, verdict: str) -> None:
    line = {"hold_id": hold.hold_id, "call_id": hold.call_id, "verdict": verdict}
    out.write(json.dumps(line) + "\n")
    out.flush()
