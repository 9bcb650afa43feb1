"""The gate's fail-closed paths under real breakage, each ending with a verified chain.

A stage with a bug, an approval store that dies while a caller waits on a hold or as the
approval is used, an audit log that loses the outcome record after the tool ran. Every
path runs synchronously (``run``) and asynchronously (``arun``) where the gate has two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from firewall.approvals.models import HoldState
from firewall.approvals.store import SqlApprovalStore
from firewall.gate import Executed, Firewall
from firewall.settings import GateSettings
from firewall.types import Deny, DenyCode, Hold, ToolCall
from tests.faults.breakage import LOST_CONNECTION, BreakingStore, ExplodingStage, OutcomeLosingAudit
from tests.faults.rig import FaultRig, fault_rig
from tests.faults.verdict import (
    ALLOWED_AND_RAN,
    ALLOWED_ONLY,
    Entry,
    assert_verified,
    records_by_call,
    records_of,
)
from tests.gate_helpers import call

MODES = ["run", "arun"]
HELD: list[Entry] = [("hold_created", None, None), ("decision", "hold", None)]
Rigs = Callable[..., FaultRig]


@pytest.fixture
def make(sqlite_url: str, key_files: tuple[Path, Path], policy_dir: Path) -> Iterator[Rigs]:
    """Build the firewall under test (with ``fault_rig``'s options); closed afterwards."""
    made: list[FaultRig] = []

    def build(**options: Any) -> FaultRig:
        made.append(fault_rig(sqlite_url, key_files[0], policy_dir, **options))
        return made[-1]

    yield build
    for rig in made:
        rig.close()


def guarded(firewall: Firewall, mode: str, the_call: ToolCall, tool: Callable[[], str]) -> Any:
    """``firewall.run`` the call, or ``arun`` it with an async twin of ``tool``."""
    if mode == "run":
        return firewall.run(the_call, tool)

    async def async_tool() -> str:
        return tool()

    return asyncio.run(firewall.arun(the_call, async_tool))


@pytest.mark.parametrize("mode", MODES)
def test_a_stage_raising_an_untyped_error_denies_the_call_as_an_internal_error(
    make: Rigs, key_files: tuple[Path, Path], mode: str
) -> None:
    rig = make(stages=lambda pipeline: [*pipeline, ExplodingStage()])
    broken, healthy = call(), call()
    refusal = guarded(rig.firewall, mode, broken, rig.tool("broken"))
    assert isinstance(guarded(rig.firewall, mode, healthy, rig.tool("healthy")), Executed)

    assert isinstance(refusal, Deny)
    assert (refusal.code, refusal.reasons) == (
        DenyCode.INTERNAL_ERROR,
        ("check 'exploding' failed (KeyError)",),
    )
    assert rig.ran == ["healthy"]
    rig.close()
    calls = records_by_call(rig.url)
    assert calls == {
        broken.call_id: [("decision", "deny", "internal_error")],
        healthy.call_id: ALLOWED_AND_RAN,
    }
    [decision] = records_of(rig.url, broken.call_id)
    assert decision.details["stage"] == "exploding"
    assert_verified(rig.url, key_files[1])


def test_a_stage_raising_before_a_hold_leaves_no_hold_behind(
    make: Rigs, key_files: tuple[Path, Path]
) -> None:
    rig = make(stages=lambda pipeline: [*pipeline, ExplodingStage()])
    refund = call("refund", amount=20)
    refusal = rig.firewall.run(refund, rig.tool())
    assert isinstance(refusal, Deny)
    assert refusal.code is DenyCode.INTERNAL_ERROR
    assert (rig.ran, rig.approvals.pending()) == ([], [])
    rig.close()
    assert records_by_call(rig.url) == {refund.call_id: [("decision", "deny", "internal_error")]}
    assert_verified(rig.url, key_files[1])


@pytest.mark.parametrize("mode", MODES)
def test_the_approval_store_dying_while_a_caller_waits_denies_with_store_error(
    make: Rigs, key_files: tuple[Path, Path], mode: str
) -> None:
    stores: list[BreakingStore] = []

    def breaking(inner: SqlApprovalStore) -> BreakingStore:
        stores.append(BreakingStore(inner, fail_from_read=3))  # two polls answer "pending"
        return stores[0]

    rig = make(store=breaking)
    refund = call("refund", amount=20)
    refusal = guarded(rig.firewall, mode, refund, rig.tool())

    assert isinstance(refusal, Deny)
    assert (refusal.code, refusal.reasons) == (
        DenyCode.STORE_ERROR,
        (f"approval store unavailable ({LOST_CONNECTION})",),
    )
    assert rig.ran == []
    assert stores[0].reads >= 3
    [hold] = rig.store.list()
    assert hold.state is HoldState.PENDING  # undecided: it expires, it never runs
    rig.close()
    assert records_by_call(rig.url) == {
        refund.call_id: [*HELD, ("decision", "deny", "store_error")]
    }
    verdict = assert_verified(rig.url, key_files[1])
    assert verdict.in_doubt == []


@pytest.mark.parametrize("mode", MODES)
def test_an_untyped_store_error_while_waiting_is_refused_and_audited(
    make: Rigs, key_files: tuple[Path, Path], mode: str
) -> None:
    rig = make(store=lambda inner: BreakingStore(inner, fail_from_read=3, untyped=True))
    refund = call("refund", amount=20)
    refusal = guarded(rig.firewall, mode, refund, rig.tool())

    assert isinstance(refusal, Deny)
    assert refusal.reasons == ("approval store unavailable (ConnectionError)",)
    assert rig.ran == []
    rig.close()
    assert records_by_call(rig.url) == {
        refund.call_id: [*HELD, ("decision", "deny", "store_error")]
    }
    assert_verified(rig.url, key_files[1])


def test_the_approval_store_failing_as_the_approval_is_used_denies_with_store_error(
    make: Rigs, key_files: tuple[Path, Path]
) -> None:
    stores: list[BreakingStore] = []

    def breaking(inner: SqlApprovalStore) -> BreakingStore:
        stores.append(BreakingStore(inner))
        return stores[0]

    rig = make(store=breaking, settings=GateSettings(hold_mode="return"))
    refund = call("refund", amount=20)
    hold = rig.firewall.guard(refund)
    assert isinstance(hold, Hold)
    approved = rig.approvals.approve(hold.hold_id, "alice")
    stores[0].writes_broken = True

    refusal = rig.firewall.resolve_hold(refund, hold, approved)
    assert isinstance(refusal, Deny)
    assert refusal.code is DenyCode.STORE_ERROR
    assert refusal.reasons == (f"approval store unavailable ({LOST_CONNECTION})",)
    assert rig.store.list()[0].state is HoldState.APPROVED  # its one run was never used
    rig.close()
    assert records_by_call(rig.url) == {
        refund.call_id: [
            *HELD,
            ("hold_decided", "approved", None),
            ("decision", "deny", "store_error"),
        ]
    }
    assert_verified(rig.url, key_files[1])


@pytest.mark.parametrize("mode", MODES)
def test_a_lost_outcome_record_returns_the_value_logs_an_error_and_leaves_the_call_in_doubt(
    make: Rigs, key_files: tuple[Path, Path], mode: str
) -> None:
    rig = make(audit=OutcomeLosingAudit)
    lookup = call()
    with capture_logs() as logs:
        result = guarded(rig.firewall, mode, lookup, rig.tool("crm record"))

    assert isinstance(result, Executed)
    assert (result.value, rig.ran) == ("crm record", ["crm record"])
    lost = [entry for entry in logs if entry["event"] == "outcome_not_audited"]
    assert [(e["log_level"], e["call_id"], e["outcome"]) for e in lost] == [
        ("error", lookup.call_id, "ok")
    ]
    rig.close()
    assert records_by_call(rig.url) == {lookup.call_id: ALLOWED_ONLY}
    verdict = assert_verified(rig.url, key_files[1])
    assert verdict.in_doubt == [lookup.call_id]
    assert f"  {lookup.call_id} (tool lookup, decision at seq 1)" in verdict.text


def test_a_lost_outcome_record_of_a_failing_tool_still_raises_the_tool_error(
    make: Rigs, key_files: tuple[Path, Path]
) -> None:
    rig = make(audit=OutcomeLosingAudit)
    lookup = call()

    def failing() -> str:
        raise TimeoutError("CRM did not answer")

    with capture_logs() as logs, pytest.raises(TimeoutError, match="CRM did not answer"):
        rig.firewall.run(lookup, failing)
    assert [e["outcome"] for e in logs if e["event"] == "outcome_not_audited"] == ["error"]
    rig.close()
    verdict = assert_verified(rig.url, key_files[1])
    assert verdict.in_doubt == [lookup.call_id]
