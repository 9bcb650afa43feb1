"""The PostgreSQL holding the audit log and the holds dies mid-run, then comes back.

The test owns the server (``pg_ctl stop -m immediate`` is a crash to PostgreSQL). The
outage begins inside a tool: that call ran but its outcome cannot be recorded. Meanwhile
a caller waits on a hold. While the server is down every call fails closed; once it is
back calls run again, and the chain verifies with every allowed call's records in it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from structlog.testing import capture_logs

from firewall.approvals.models import HoldState
from firewall.audit.store import SqlAuditLog
from firewall.gate import Executed
from firewall.types import Deny, DenyCode, ToolCall
from tests.faults.own_postgres import OwnPostgres
from tests.faults.rig import FaultRig, fault_rig
from tests.faults.verdict import (
    ALLOWED_AND_RAN,
    ALLOWED_ONLY,
    Entry,
    assert_verified,
    records_by_call,
)
from tests.gate_helpers import call

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WAIT_S = 60.0


class Waiter:
    """A caller blocked on a held refund, in its own thread."""

    def __init__(self, rig: FaultRig) -> None:
        self.call = call("refund", amount=20)
        self.result: Any = None
        self._thread = threading.Thread(target=self._run, args=(rig,), daemon=True)
        self._thread.start()

    def _run(self, rig: FaultRig) -> None:
        self.result = rig.firewall.run(self.call, rig.tool("refund"))

    def join(self) -> Any:
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "the waiting caller never returned"
        return self.result


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def hold_decision_recorded(url: str, call_id: str) -> bool:
    """Whether the call's ``hold`` decision is durable (seen by another connection)."""
    with SqlAuditLog(url, create=False) as log:
        return any(r.outcome == "hold" for r in log.records_for_call(call_id))


def unsealed_handoffs(url: str) -> int:
    """Events handed over for sealing and never sealed (PostgreSQL's group commit)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_pending")).scalar_one())
    finally:
        engine.dispose()


def guarded_calls(rig: FaultRig, label: str) -> list[tuple[ToolCall, Any]]:
    """An allowed lookup, a lookup, a denied payment, a held refund: (call, result)."""
    calls = [call(), call(), call("pay"), call("refund", amount=20)]
    return [(each, rig.firewall.run(each, rig.tool(label))) for each in calls]


def test_a_postgres_outage_fails_calls_closed_and_the_chain_survives_it(
    own_postgres: OwnPostgres, key_files: tuple[Path, Path], policy_dir: Path
) -> None:
    url = own_postgres.url
    rig = fault_rig(url, key_files[0], policy_dir)
    cut_off = call()

    def take_the_database_down() -> str:
        own_postgres.stop_immediately()
        return "ran"

    try:
        before = [rig.firewall.run(call(), rig.tool("before")) for _ in range(2)]
        refused_by_policy = rig.firewall.run(call("pay"), rig.tool("pay"))
        waiter = Waiter(rig)
        wait_until(lambda: hold_decision_recorded(url, waiter.call.call_id))
        with capture_logs() as logs:
            cut_off_result = rig.firewall.run(cut_off, take_the_database_down)
            during = guarded_calls(rig, "during")
            waited = waiter.join()
        own_postgres.start()
        after = [rig.firewall.run(call(), rig.tool("after")) for _ in range(2)]
        held = rig.store.for_call(waiter.call.key)
    finally:
        rig.close()

    assert all(isinstance(result, Executed) for result in [*before, *after])
    assert isinstance(refused_by_policy, Deny)
    assert refused_by_policy.code is DenyCode.POLICY
    assert isinstance(cut_off_result, Executed)
    assert cut_off_result.value == "ran"  # the tool's value survives the lost outcome record
    assert any(e["log_level"] == "error" and e.get("call_id") == cut_off.call_id for e in logs)
    for result in [waited, *(result for _, result in during)]:
        assert isinstance(result, Deny)
        assert result.code is DenyCode.STORE_ERROR
    assert rig.ran == ["before", "before", "after", "after"]
    assert held is not None
    assert held.state is HoldState.PENDING  # intact after the crash; never decided, never run

    expected: dict[str, list[Entry]] = {
        **{result.call_id: ALLOWED_AND_RAN for result in [*before, *after]},
        refused_by_policy.call_id: [("decision", "deny", "policy")],
        waiter.call.call_id: [("hold_created", None, None), ("decision", "hold", None)],
        cut_off.call_id: ALLOWED_ONLY,
    }
    assert records_by_call(url) == expected  # nothing from the outage, nothing half-written
    verdict = assert_verified(url, key_files[1])
    assert verdict.in_doubt == [cut_off.call_id]
    assert verdict.records_checked == sum(len(entries) for entries in expected.values())
    assert unsealed_handoffs(url) == 0
