"""Property: colliding model-chosen ids never let a call see, decide or run another scope's hold.

Tenants, sessions, agents and call ids are drawn from tiny sets, so ids collide all the
time: across tenants, across sessions of one tenant, across agents, and within one
scope (a model reusing ``call_1``). Each step places a hold (``guard``), decides one
(``approve`` / ``deny``), or resumes a paused call as the interrupt middleware does
(the hold under the call's key, resolved and run only if it is exactly this call's).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firewall.approvals import HoldRecord, HoldState, SqlApprovalStore
from firewall.errors import ApprovalError
from firewall.gate import Executed
from firewall.settings import GateSettings
from firewall.types import Allow, CallKey, Deny, DenyCode, Hold, Principal, ToolCall
from tests.gate_helpers import Rig
from tests.malformed.rig import build_rig

EXAMPLES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Action = Literal["guard", "approve", "deny", "resume"]
NAMESPACES = itertools.count()


@dataclass(frozen=True)
class Step:
    action: Action
    tenant: str
    session: str
    agent: str
    call_id: str
    amount: int


steps = st.lists(
    st.builds(
        Step,
        action=st.sampled_from(["guard", "guard", "approve", "deny", "resume"]),
        tenant=st.sampled_from(["acme", "globex"]),
        session=st.sampled_from(["s-1", "s-2"]),
        agent=st.sampled_from(["bot-1", "bot-2"]),
        call_id=st.sampled_from(["call_1", "call_2", "0"]),
        amount=st.integers(min_value=1, max_value=3),
    ),
    min_size=1,
    max_size=14,
)


@dataclass
class World:
    """What each scope asked for: the call that owns each scoped id, and what ran."""

    namespace: str
    owners: dict[CallKey, tuple[ToolCall, str]] = field(default_factory=dict)
    ran: list[ToolCall] = field(default_factory=list)

    def call(self, step: Step) -> ToolCall:
        principal = Principal(
            agent_id=step.agent, tenant=step.tenant, scopes=frozenset({"refunds:write"})
        )
        return ToolCall(
            tool="refund",
            args={"order_id": "o-1", "amount": step.amount},
            principal=principal,
            session_id=f"{self.namespace}-{step.session}",  # fresh scopes per example
            call_id=step.call_id,
        )


@dataclass
class Harness:
    rig: Rig
    store: SqlApprovalStore  # the rig's database, read directly


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """Every refund is held; holds are returned, not waited for; no breaker freezes the bots."""
    path = tmp_path_factory.mktemp("ids")
    rig = build_rig(path, settings=GateSettings(hold_mode="return"), breaker=False)
    with SqlApprovalStore(f"sqlite:///{path / 'firewall.db'}") as store:
        yield Harness(rig, store)


@EXAMPLES
@given(run=steps)
def test_colliding_ids_never_cross_tenant_session_or_agent(
    harness: Harness, run: list[Step]
) -> None:
    rig = harness.rig
    world = World(namespace=f"ns{next(NAMESPACES)}")
    for step in run:
        call = world.call(step)
        if step.action == "guard":
            place(rig, world, call)
        elif step.action == "resume":
            resume(rig, world, call)
        else:
            decide(rig, world, call, step.action)
    check_store(harness, world)
    check_runs(rig, world)


def place(rig: Rig, world: World, call: ToolCall) -> None:
    """A new call: held once per scoped id; a second call reusing the id is refused."""
    result = rig.firewall.guard(call)
    if call.key in world.owners:
        assert isinstance(result, Deny)
        assert result.code is DenyCode.INVALID_CALL
        return
    assert isinstance(result, Hold)
    world.owners[call.key] = (call, result.hold_id)


def decide(rig: Rig, world: World, call: ToolCall, action: str) -> None:
    """A supervisor decides the hold the call's own scope shows; never another scope's."""
    found = rig.approvals.for_call(call.key)
    owner = world.owners.get(call.key)
    assert (found is None) == (owner is None)
    if found is None or owner is None:
        return
    assert found.hold_id == owner[1]
    try:
        if action == "approve":
            rig.approvals.approve(found.hold_id, "alice")
        else:
            rig.approvals.deny(found.hold_id, "alice", "no")
    except ApprovalError:
        pass  # already decided: a double click decides once


def resume(rig: Rig, world: World, call: ToolCall) -> None:
    """Resume as the interrupt middleware does; the tool runs only for its own approved hold."""
    found = rig.approvals.for_call(call.key)
    if found is None:
        return
    assert found.key == call.key
    if found.digest != call.binding_digest() or found.state is HoldState.PENDING:
        return  # another call under this id is refused; a pending hold pauses again
    before = found.state
    hold = Hold(
        call_id=found.call_id,
        hold_id=found.hold_id,
        approvers=found.approvers,
        quorum=found.quorum,
        expires_at=found.expires_at,
        reasons=found.reasons,
    )
    decision = rig.firewall.resolve_hold(call, hold, found)
    if isinstance(decision, Allow):
        assert before is HoldState.APPROVED
        result = rig.firewall.run_allowed(call, rig.tool(found.hold_id), hold_id=found.hold_id)
        assert isinstance(result, Executed)
        world.ran.append(call)


def check_store(harness: Harness, world: World) -> None:
    """One hold per scoped id, each for exactly the call that placed it."""
    stored = [r for r in harness.store.list() if r.session_id.startswith(f"{world.namespace}-")]
    assert sorted(r.hold_id for r in stored) == sorted(h for _, h in world.owners.values())
    for record in stored:
        call, hold_id = world.owners[record.key]
        assert record.hold_id == hold_id
        assert record.digest == call.binding_digest()
        assert harness.rig.approvals.for_call(record.key) == record


def check_runs(rig: Rig, world: World) -> None:
    """Every run was its scope's own call, approved, and used its approval once."""
    for call in world.ran:
        owner, hold_id = world.owners[call.key]
        assert owner.binding_digest() == call.binding_digest()
        record = held(rig, hold_id)
        assert record.state is HoldState.EXECUTED
        assert record.decided_by == ("alice",)
    assert len({call.key for call in world.ran}) == len(world.ran)


def held(rig: Rig, hold_id: str) -> HoldRecord:
    record = rig.approvals.get(hold_id)
    assert record is not None
    return record
