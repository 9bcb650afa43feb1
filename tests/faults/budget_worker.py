"""Spawned processes of the budget fault test: agents that resolve any hold, and an approver.

Every agent makes refunds for a few shared customers (each with a daily budget in Redis)
and, between its own calls, resolves holds it picks from the shared approval store: its
own and other agents', pending, decided, already executed, again and again, as the
LangGraph interrupt middleware does when a paused graph is re-run anywhere. Call ids
repeat across agents and tenants (``call-<n>``); only the session and agent tell them
apart. A tool run is one JSON line appended (and flushed) to the agent's ``ran`` file,
so that a run survives the agent being SIGKILLed right after it.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import IO

from firewall.approvals.models import HoldRecord
from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore
from firewall.containment.control import Containment
from firewall.containment.settings import BreakerSettings, BudgetRule, LimitSettings
from firewall.gate import Executed, Firewall
from firewall.policy.embedded import RegoEngine
from firewall.settings import GateSettings
from firewall.types import Allow, Deny, DenyCode, Hold, Principal, Risk, ToolCall, ToolSpec
from tests.containment.helpers import ListAudit

BUDGET = BudgetRule(tool="refund", per="customer", amount=Decimal(2000), window="1 day")
AMOUNTS = (60, 90, 150, 250, 400)  # up to 100 runs at once; above, a supervisor decides
HOLD_TTL_S = 3
TENANTS = {
    "acme": ("acme-c0", "acme-c1", "acme-c2"),
    "globex": ("globex-c0", "globex-c1", "globex-c2"),
}
TOOLS = (
    ToolSpec(
        name="refund",
        scope="refunds:write",
        risk=Risk.HIGH,
        money_arg="amount",
        args_schema={"type": "object", "properties": {"amount": {"type": "number"}}},
    ),
)
POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "deny", "reasons": ["no rule for this tool"]}

decision := {"outcome": "allow", "reasons": []} if {
    input.tool.name == "refund"
    input.args.amount <= 100
}

decision := {
    "outcome": "hold",
    "reasons": ["refunds above 100 need a supervisor"],
    "obligations": {"approvers": "supervisors"},
} if {
    input.tool.name == "refund"
    input.args.amount > 100
}
"""


@dataclass(frozen=True)
class Setup:
    """What every process of one run shares."""

    postgres_url: str
    redis_url: str
    prefix: str
    out_dir: Path

    def ran_path(self, worker: int) -> Path:
        """Where agent ``worker`` appends one line per tool run."""
        return self.out_dir / f"ran-{worker}.jsonl"

    def report_path(self, worker: int) -> Path:
        """Where agent ``worker`` writes how its decisions went, when it stops."""
        return self.out_dir / f"report-{worker}.json"

    def ready_path(self, worker: int) -> Path:
        """Created once agent ``worker`` is about to make its first call."""
        return self.out_dir / f"ready-{worker}"


def tenant_of(worker: int) -> str:
    """Even agents work for acme, odd ones for globex."""
    return "acme" if worker % 2 == 0 else "globex"


def planned(worker: int, n: int) -> ToolCall:
    """The ``n``-th call of agent ``worker``: the same for every process that asks."""
    pick = random.Random(f"{worker}:{n}")  # noqa: S311 - a test plan, not a secret
    tenant = tenant_of(worker)
    principal = Principal(
        agent_id=f"agent-{worker}",
        tenant=tenant,
        scopes=frozenset({"refunds:write"}),
        on_behalf_of=f"customer:{pick.choice(TENANTS[tenant])}",
        requested_by=f"operator-{worker}",
    )
    return ToolCall(
        tool="refund",
        args={"amount": pick.choice(AMOUNTS)},
        principal=principal,
        session_id=f"session-{worker}",
        call_id=f"call-{n}",
    )


def call_of(record: HoldRecord) -> ToolCall:
    """The planned call a hold was placed for (any agent's)."""
    worker = int(str(record.principal["agent_id"]).removeprefix("agent-"))
    return planned(worker, int(record.call_id.removeprefix("call-")))


def build_firewall(setup: Setup, policy_dir: Path, store: SqlApprovalStore) -> Firewall:
    """An agent's firewall: holds in PostgreSQL, budgets and the kill switch in Redis."""
    audit = ListAudit()
    approvals = ApprovalService(store, audit, approvers())
    containment = Containment(
        storage_url=setup.redis_url,
        budgets=(BUDGET,),
        settings=LimitSettings(key_prefix=setup.prefix, timeout_s=0.5),
        breaker=BreakerSettings(enabled=False),
        audit=audit,
    )
    return Firewall(
        tools=TOOLS,
        policy=RegoEngine(policy_dir),
        audit=audit,
        approvals=approvals,
        containment=containment,
        settings=GateSettings(hold_mode="return", hold_ttl_s=HOLD_TTL_S),
    )


def approvers() -> dict[str, list[str]]:
    """The one supervisor group."""
    return {"supervisors": ["alice"]}


def run_agent(setup: Setup, worker: int, stop: Event) -> None:
    """Make calls and resolve holds until ``stop`` is set; then write the report."""
    policy_dir = setup.out_dir / f"policy-{worker}"
    policy_dir.mkdir()
    (policy_dir / "decision.rego").write_text(POLICY, encoding="utf-8")
    store = SqlApprovalStore(setup.postgres_url)
    firewall = build_firewall(setup, policy_dir, store)
    seen: Counter[str] = Counter()
    pick = random.Random(worker)  # noqa: S311 - a test plan, not a secret
    with open(setup.ran_path(worker), "a", encoding="utf-8") as ran:
        setup.ready_path(worker).touch()
        n = 0
        while not stop.is_set():
            call = planned(worker, n)
            _count(seen, "guard", _run(firewall, call, firewall.guard(call), ran, None))
            for listed in _some_holds(store, pick):
                call, hold = call_of(listed), _hold_of(listed)
                # As the interrupt middleware does (a fresh look, expiring an overdue
                # hold), or with the record as listed a moment ago, maybe stale by now.
                record = _looked_up(firewall, listed) if pick.random() < 0.5 else listed
                decision = _resolved(firewall, call, hold, record)
                _count(seen, record.state.value, _run(firewall, call, decision, ran, hold))
            n += 1
    setup.report_path(worker).write_text(json.dumps(seen), encoding="utf-8")
    firewall.close()


def _some_holds(store: SqlApprovalStore, pick: random.Random) -> list[HoldRecord]:
    try:
        every = store.list()  # every agent's holds, in every state
    except Exception:  # noqa: BLE001 - the store may blink; try again next round
        return []
    return pick.sample(every, min(3, len(every)))


def _looked_up(firewall: Firewall, listed: HoldRecord) -> HoldRecord:
    try:
        return firewall.approvals.wait(listed.hold_id, timeout_s=0)
    except Exception:  # noqa: BLE001 - the store may blink: use the listed view
        return listed


def _resolved(firewall: Firewall, call: ToolCall, hold: Hold, record: HoldRecord) -> Allow | Deny:
    try:
        return firewall.resolve_hold(call, hold, record)
    except Exception as exc:  # noqa: BLE001 - resolve_hold must not raise: reported
        return Deny(call_id=call.call_id, code=DenyCode.INTERNAL_ERROR, reasons=(repr(exc),))


def _run(
    firewall: Firewall,
    call: ToolCall,
    decision: Allow | Deny | Hold,
    ran: IO[str],
    hold: Hold | None,
) -> str:
    if not isinstance(decision, Allow):
        return decision.code.value if isinstance(decision, Deny) else "hold"
    hold_id = hold.hold_id if hold else None

    def tool() -> None:
        line = {
            "agent": call.principal.agent_id,
            "call_id": call.call_id,
            "customer": call.principal.on_behalf_of,
            "amount": call.args["amount"],
            "hold_id": hold_id,
        }
        ran.write(json.dumps(line) + "\n")
        ran.flush()

    result = firewall.run_allowed(call, tool, hold_id=hold_id)
    return "ran" if isinstance(result, Executed) else result.code.value


def _count(seen: Counter[str], step: str, outcome: str) -> None:
    seen[f"{step}:{outcome}"] += 1


def _hold_of(record: HoldRecord) -> Hold:
    return Hold(
        call_id=record.call_id,
        hold_id=record.hold_id,
        approvers=record.approvers,
        quorum=record.quorum,
        expires_at=record.expires_at,
        reasons=record.reasons,
    )


def run_approver(setup: Setup, stop: Event) -> None:
    """Approve most pending holds, deny some, leave some to expire, until ``stop``."""
    service = ApprovalService(SqlApprovalStore(setup.postgres_url), ListAudit(), approvers())
    while not stop.is_set():
        try:
            for record in service.pending():
                _decide(service, record)
        except Exception:  # noqa: BLE001, S110 - the store may blink; decide next round
            pass
        time.sleep(0.05)


def _decide(service: ApprovalService, record: HoldRecord) -> None:
    verdict = int(record.hold_id[-2:], 16) % 10
    try:
        if verdict < 7:
            service.approve(record.hold_id, "alice")
        elif verdict < 9:
            service.deny(record.hold_id, "alice", "not eligible")
        # else: left pending until it expires
    except Exception:  # noqa: BLE001, S110 - already decided or expired: fine
        pass


def ran_lines(setup: Setup, workers: int) -> list[dict[str, object]]:
    """Every tool run every agent recorded (a torn last line of a killed agent is skipped)."""
    lines = []
    for worker in range(workers):
        path = setup.ran_path(worker)
        for text in path.read_text("utf-8").splitlines() if path.exists() else ():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                continue
    return lines
