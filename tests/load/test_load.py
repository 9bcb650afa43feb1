"""8 agent processes x 1,000 mixed calls, and a supervisor process, on shared stores.

Audit and holds are in one PostgreSQL schema, rate limits and budgets under one Redis
prefix, hold wake-ups on Redis pub/sub; the policy is the shipped ``policies/rego``. No
table is created beforehand: the nine processes race to create them. The run happens once
(2 to 5 minutes on a shared 2-core box); each test checks one promise of it.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from firewall.approvals.models import HoldState
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.keyfiles import generate_key_pair
from firewall.audit.records import AuditRecord
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_store
from tests.containment.helpers import delete_prefix
from tests.load.accounting import accounting_problems, trails
from tests.load.ledger import LedgerView, cents
from tests.load.run import LoadRun, run_load
from tests.load.workload import (
    APPROVED_REFUND,
    CUSTOMER_BUDGET,
    DENIED_REFUND,
    HOT_LIMIT,
    SHARED_CUSTOMER,
    SMALL_REFUND,
    TENANT_BUDGET,
    LoadSetup,
    PlannedCall,
    approver_verdict,
    plan,
)
from tests.services import fresh_schema

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.timeout(900),
]
WORKERS, CALLS = 8, 1000


@dataclass(frozen=True)
class Loaded:
    """One finished run: its stores, what the processes reported, and what was planned."""

    setup: LoadSetup
    public_key: Path
    run: LoadRun
    planned: dict[str, PlannedCall]
    records: list[AuditRecord]

    def reports_of(self, kind: str) -> list[dict[str, Any]]:
        return [report for report in self.run.reports if report["kind"] == kind]


@pytest.fixture(scope="module")
def loaded(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """The load run, once for the module; its schema and Redis keys are removed afterwards."""
    base = tmp_path_factory.mktemp("load")
    private_key, public_key, _ = generate_key_pair(base / "keys", "load-writer")
    prefix = f"fwload{uuid.uuid4().hex[:12]}"
    with fresh_schema(postgres_url, "load") as url:
        setup = LoadSetup(url, redis_url, prefix, private_key, base)
        try:
            run = run_load(setup, WORKERS, CALLS)
            with SqlAuditLog(url, create=False) as log:
                records = list(log.records())
            planned = {p.call.call_id: p for w in range(WORKERS) for p in plan(w, CALLS)}
            yield Loaded(setup, public_key, run, planned, records)
        finally:
            delete_prefix(redis_url, prefix)


def test_every_planned_call_is_reported_once_with_its_result(loaded: Loaded) -> None:
    reported = Counter(report["call_id"] for report in loaded.run.reports)
    assert reported == Counter(list(loaded.planned))
    results = Counter(report["result"] for report in loaded.run.reports)
    assert set(results) <= {"executed", "denied"}, results
    assert all(report["kind"] == loaded.planned[report["call_id"]].kind
               for report in loaded.run.reports)  # fmt: skip


def test_each_kind_of_call_gets_the_decision_the_policy_gives_it(loaded: Loaded) -> None:
    assert {r["result"] for r in loaded.reports_of("own")} == {"executed"}
    assert {(r["result"], r["code"]) for r in loaded.reports_of("other")} == {("denied", "policy")}
    held = {(Decimal(r["amount"]), r["result"], r.get("code"), bool(r["hold_id"]))
            for r in loaded.reports_of("held")}  # fmt: skip
    assert held == {
        (APPROVED_REFUND, "executed", None, True),
        (DENIED_REFUND, "denied", "approval_denied", True),
    }


def test_one_shared_rate_limit_admits_exactly_its_limit_across_processes(loaded: Loaded) -> None:
    results = Counter((r["result"], r.get("code")) for r in loaded.reports_of("hot"))
    assert results == {
        ("executed", None): HOT_LIMIT,
        ("denied", "rate_limited"): len(loaded.reports_of("hot")) - HOT_LIMIT,
    }


def test_the_shared_budget_is_spent_exactly_never_overshot_and_the_ledger_agrees(
    loaded: Loaded,
) -> None:
    small = loaded.reports_of("small")
    spent = [Decimal(r["amount"]) for r in small if r["result"] == "executed"]
    assert sum(spent) == CUSTOMER_BUDGET.amount  # $10 refunds fill $2,000 to the cent
    assert {r["code"] for r in small if r["result"] == "denied"} == {"budget_exceeded"}
    all_refunds = [Decimal(r["amount"]) for r in loaded.run.reports
                   if r["kind"] in ("small", "held") and r["result"] == "executed"]  # fmt: skip
    ledger = LedgerView(loaded.setup)
    try:
        assert ledger.used(CUSTOMER_BUDGET, SHARED_CUSTOMER) == cents(spent)
        assert ledger.used(TENANT_BUDGET, SHARED_CUSTOMER) == cents(all_refunds)
        for report in loaded.reports_of("held"):  # a denied hold gave its reservation back
            customer = loaded.planned[report["call_id"]].call.principal.on_behalf_of or ""
            ran = report["result"] == "executed"
            expected = cents([Decimal(report["amount"])]) if ran else 0
            assert ledger.used(CUSTOMER_BUDGET, customer.removeprefix("customer:")) == expected
    finally:
        ledger.close()
    assert len(spent) == CUSTOMER_BUDGET.amount / SMALL_REFUND


def test_the_audited_refunds_are_the_ones_the_workers_ran(loaded: Loaded) -> None:
    audited = Decimal(0)
    for call_id, trail in trails(loaded.records).items():
        finals = [r for r in trail if r.event == "decision" and r.outcome == "allow"]
        if call_id and loaded.planned[call_id].call.tool == "issue_refund" and finals:
            audited += Decimal(str((finals[0].args or {})["amount"]))
    ran = sum(Decimal(r["amount"]) for r in loaded.run.reports if r["result"] == "executed")
    assert audited == ran
    assert audited <= TENANT_BUDGET.amount


def test_the_approver_process_decides_every_hold_once_as_scripted(loaded: Loaded) -> None:
    decisions = loaded.run.decisions
    assert len({d["hold_id"] for d in decisions}) == len(decisions)
    held = {r["hold_id"]: r for r in loaded.reports_of("held")}
    assert {d["hold_id"] for d in decisions} == set(held)
    for decision in decisions:
        amount = loaded.planned[decision["call_id"]].amount
        assert decision["verdict"] == approver_verdict(amount)
    with SqlApprovalStore(loaded.setup.postgres_url) as store:
        states = Counter(hold.state for hold in store.list())
    ran = sum(r["result"] == "executed" for r in held.values())
    assert states == {HoldState.EXECUTED: ran, HoldState.DENIED: len(held) - ran}


def test_the_audit_accounts_for_every_call_exactly_once(loaded: Loaded) -> None:
    problems = accounting_problems(loaded.run.reports, trails(loaded.records))
    assert problems[:20] == [], f"{len(problems)} problems"


def test_no_tool_ran_without_an_allow_or_a_used_approval_before_it(loaded: Loaded) -> None:
    allowed: set[str] = set()
    ran: list[str] = []
    for record in loaded.records:
        if record.event == "decision" and record.outcome == "allow":
            allowed.add(record.call_id or "")
        if record.event == "outcome":
            assert record.call_id in allowed, f"{record.call_id} ran before any allow"
            ran.append(record.call_id)
    assert sorted(ran) == sorted(r["call_id"] for r in loaded.run.reports if r["ran"])


def test_the_chain_verifies_whole_signed_and_without_gaps(loaded: Loaded) -> None:
    total = len(loaded.records)
    assert [record.seq for record in loaded.records] == list(range(1, total + 1))
    report = verify_store(loaded.setup.postgres_url, Trust.from_files([loaded.public_key]))
    assert report.valid, report.findings
    assert (report.records_checked, report.first_seq, report.last_seq) == (total, 1, total)
    assert (report.signed_through, report.in_doubt) == (total, ())
    url, key = loaded.setup.postgres_url, str(loaded.public_key)
    command = [sys.executable, "-m", "firewall.cli", "audit", "verify"]
    command += ["--db", url, "--public-key", key]
    verified = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
