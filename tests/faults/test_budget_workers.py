"""Agents in five processes resolve each other's holds while one is killed and Redis restarts.

Issue 12, class 8: with every worker resolving every decided hold (as a re-run of a
paused graph does), executed holds were answered "expired" and gave their budget back,
and customers got refunds far beyond their daily budget. Here five agent processes and
one approver share a fresh PostgreSQL schema (holds) and a Redis server of the test's
own (budgets, kill switch; append-only file on, so a restart keeps what was spent). One
agent is SIGKILLed mid-run and Redis is killed and restarted. Afterwards: no customer got
more than the budget, no call ran twice, and the ledger counts at least what ran.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
import redis

from firewall.approvals.models import HoldState
from firewall.approvals.store import SqlApprovalStore
from firewall.containment.budgets import to_minor_units
from firewall.containment.budgets_redis import RedisBudgetLedger
from firewall.containment.settings import LimitSettings
from firewall.stages.budgets import bucket_of
from firewall.types import Principal, ToolCall
from tests.containment.helpers import closed_port
from tests.faults.budget_worker import BUDGET, TENANTS, Setup, ran_lines, run_agent, run_approver
from tests.services import fresh_schema

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(180)]

AGENTS = 5
VICTIM = 0  # the agent SIGKILLed mid-run
RUN_S = 17.0
KILL_AGENT_AT_S = 5.0
REDIS_DOWN_AT_S, REDIS_DOWN_FOR_S = 8.0, 3.0  # longer than redis-py's own retries
READY_TIMEOUT_S = 60.0


class DurableRedis:
    """A redis-server of this test that keeps its data across a kill (AOF, fsync always)."""

    def __init__(self, workdir: Path) -> None:
        self.port = closed_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart on the same port and files) and wait until it answers."""
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self._workdir),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while not _answers(client):
                assert time.monotonic() < deadline, "own redis-server did not start"
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown save, only what the append-only file already holds."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None


def _answers(client: redis.Redis) -> bool:
    try:
        client.ping()
    except redis.ConnectionError:
        return False
    return True


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[DurableRedis]:
    """A durable redis-server of this test only, always killed afterwards."""
    if shutil.which("redis-server") is None:
        pytest.skip("cannot start an own Redis: redis-server not on PATH")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = DurableRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def setup(postgres_url: str, durable_redis: DurableRedis, tmp_path: Path) -> Iterator[Setup]:
    """A fresh schema (its holds table made once, before the agents start)."""
    with fresh_schema(postgres_url, "budgetfaults") as url:
        SqlApprovalStore(url).close()
        prefix = f"fwbudget{uuid.uuid4().hex[:12]}"
        yield Setup(url, durable_redis.url, prefix, tmp_path)


def test_no_customer_gets_more_than_its_budget_and_no_call_runs_twice(
    setup: Setup, durable_redis: DurableRedis
) -> None:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    agents = [context.Process(target=run_agent, args=(setup, w, stop)) for w in range(AGENTS)]
    approver = context.Process(target=run_approver, args=(setup, stop))
    for process in (approver, *agents):
        process.start()
    try:
        _wait_until_ready(setup, agents)
        _inject_faults(agents[VICTIM], durable_redis)
    finally:
        stop.set()
        _join([*agents, approver])
    assert agents[VICTIM].exitcode == -signal.SIGKILL
    assert [p.exitcode for p in (*agents[1:], approver)] == [0] * AGENTS

    ran = ran_lines(setup, AGENTS)
    runs = Counter((line["agent"], line["call_id"]) for line in ran)
    assert [key for key, count in runs.items() if count > 1] == [], "a call ran twice"
    spent = _spent_per_customer(ran)
    limit = BUDGET.amount
    assert {c: total for c, total in spent.items() if total > limit} == {}, "over budget"
    _assert_ledger_counts_what_ran(setup, spent)
    _assert_the_run_was_a_real_one(setup, ran)


def _wait_until_ready(setup: Setup, agents: list[BaseProcess]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not all(setup.ready_path(w).exists() for w in range(len(agents))):
        assert all(p.is_alive() for p in agents), "an agent died while starting"
        assert time.monotonic() < deadline, "agents did not start in time"
        time.sleep(0.1)


def _inject_faults(victim: BaseProcess, server: DurableRedis) -> None:
    started = time.monotonic()
    _sleep_until(started + KILL_AGENT_AT_S)
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    _sleep_until(started + REDIS_DOWN_AT_S)
    server.kill()
    time.sleep(REDIS_DOWN_FOR_S)
    server.start()
    _sleep_until(started + RUN_S)


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _join(processes: list[BaseProcess]) -> None:
    for process in processes:
        process.join(timeout=30)
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join()


def _spent_per_customer(ran: list[dict[str, object]]) -> dict[str, Decimal]:
    spent: dict[str, Decimal] = {}
    for line in ran:
        customer = str(line["customer"])
        spent[customer] = spent.get(customer, Decimal(0)) + Decimal(str(line["amount"]))
    return spent


def _assert_ledger_counts_what_ran(setup: Setup, spent: dict[str, Decimal]) -> None:
    """What ran is still counted: no spent money was given back (Redis kept it on disk)."""
    ledger = RedisBudgetLedger(setup.redis_url, LimitSettings(key_prefix=setup.prefix))
    try:
        for tenant, customers in TENANTS.items():
            for customer in customers:
                principal = Principal(
                    agent_id="any", tenant=tenant, on_behalf_of=f"customer:{customer}"
                )
                call = ToolCall(tool="refund", args={}, principal=principal, session_id="s")
                counted = ledger.used(bucket_of(BUDGET, call, "budget"))
                ran = to_minor_units(spent.get(f"customer:{customer}", Decimal(0)))
                assert counted >= ran, f"{customer}: {ran} cents ran, only {counted} counted"
    finally:
        ledger.close()


def _assert_the_run_was_a_real_one(setup: Setup, ran: list[dict[str, object]]) -> None:
    """The faults and the races this test is about did happen (it is not passing idle)."""
    seen: Counter[str] = Counter()
    for worker in range(AGENTS):
        path = setup.report_path(worker)
        if path.exists():
            seen.update(Counter(json.loads(path.read_text("utf-8"))))
    assert seen["executed:approval_used"] > 0, seen  # executed holds resolved again
    assert seen["pending:approval_pending"] > 0, seen  # premature resolves
    assert seen["approved:ran"] > 0, seen
    outage = sum(n for key, n in seen.items() if key.endswith(":limiter_error"))
    assert outage > 0, seen  # calls refused while Redis was down
    assert seen["guard:budget_exceeded"] > 0, seen  # the budgets were the limit
    assert any(line["hold_id"] for line in ran)
    with SqlApprovalStore(setup.postgres_url) as store:
        states = Counter(hold.state for hold in store.list())
    assert states[HoldState.DENIED] > 0, states
    assert states[HoldState.EXPIRED] > 0, states
