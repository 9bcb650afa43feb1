"""Property: whatever the call, its tool runs only when the final decision allows it.

Calls are drawn at random: known and made-up tool names, JSON-like (and not quite JSON)
arguments, principals with random scopes and tenants. The policy under test is either a
scripted engine answering each call with a drawn allow / deny / hold, or the shipped Rego
policy. A held call runs only once a scripted approver approved exactly that call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from firewall.gate import Executed
from firewall.policy.embedded import RegoEngine
from firewall.settings import GateSettings
from firewall.testing.approver import ScriptedApprover, Verdict
from firewall.types import Allow, Deny, DenyCode, Hold, ToolCall
from tests.gate_helpers import Rig
from tests.malformed.rig import TOOLS, build_rig, call
from tests.malformed.strategies import (
    COVERING,
    SHIPPED_FACTS,
    SHIPPED_POLICY,
    SHIPPED_TOOLS,
    Outcome,
    ScriptedPolicy,
    Step,
    steps,
)

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- rigs, one per module (hypothesis runs many examples on each) --------------------------


@dataclass
class Harness:
    rig: Rig
    policy: ScriptedPolicy
    verdicts: dict[str, Verdict]


def scripted_harness(tmp_path: Path, mode: Literal["wait", "return"]) -> Harness:
    policy = ScriptedPolicy()
    gate = GateSettings(hold_mode=mode, hold_ttl_s=60)
    rig = build_rig(tmp_path, policy=policy, settings=gate, breaker=False)
    return Harness(rig=rig, policy=policy, verdicts={})


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """Holds wait for a scripted approver, who gives each hold the verdict drawn for it."""
    harness = scripted_harness(tmp_path_factory.mktemp("waiting"), "wait")
    approver = ScriptedApprover(harness.rig.approvals, lambda h: harness.verdicts[h.call_id])
    with approver.running():
        yield harness


@pytest.fixture(scope="module")
def returning(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    return scripted_harness(tmp_path_factory.mktemp("returning"), "return")


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Rig:
    return build_rig(
        tmp_path_factory.mktemp("shipped"),
        policy=RegoEngine(SHIPPED_POLICY),
        tools=SHIPPED_TOOLS,
        facts=SHIPPED_FACTS,
        settings=GateSettings(hold_mode="return"),
        breaker=False,
    )


# -- the property ----------------------------------------------------------------------------


def check_property(rig: Rig, call: ToolCall, result: Executed[str] | Deny | Hold) -> None:
    """Ran exactly when executed; every call decided on the record; nothing else ran."""
    records = rig.audit.records_for_call(call.call_id)
    decisions = [r.outcome for r in records if r.event == "decision"]
    outcomes = [r.outcome for r in records if r.event == "outcome"]
    assert decisions, f"no decision record for {call!r}"
    event(result.code.value if isinstance(result, Deny) else type(result).__name__)
    assert (call.call_id in rig.ran) == isinstance(result, Executed)
    if isinstance(result, Executed):
        assert decisions[-1] == "allow"
        assert outcomes == ["ok"]
        assert COVERING[call.tool] & call.principal.scopes
    else:
        assert decisions[-1] == result.kind
        assert outcomes == []


def expected_kind(step: Step) -> type[Executed[str] | Deny]:
    """What a call the policy was asked about ends as, in wait mode (no limits configured)."""
    approved = step.answer == "allow" or (step.answer, step.verdict) == ("hold", "approve")
    return Executed if approved else Deny


def lookup_steps() -> list[Step]:
    """Well-formed lookups through every branch: allowed, approved, denied by a human, refused."""
    answers: list[tuple[Outcome, Literal["approve", "deny"]]] = [
        ("allow", "deny"),
        ("hold", "approve"),
        ("hold", "deny"),
        ("deny", "approve"),
    ]
    return [Step(call(customer_id="c-1"), answer, verdict) for answer, verdict in answers]


@EXAMPLES
@given(run=steps(tuple(spec.name for spec in TOOLS)))
@example(run=lookup_steps())
def test_a_tool_runs_only_when_allowed_or_approved(waiting: Harness, run: list[Step]) -> None:
    rig, policy = waiting.rig, waiting.policy
    for step in run:
        policy.answer = step.answer
        waiting.verdicts[step.call.call_id] = Verdict(step.verdict, "alice")
        asked = policy.asked
        result = rig.firewall.run(step.call, rig.tool(step.call.call_id))
        check_property(rig, step.call, result)
        if policy.asked == asked:  # refused before the policy: by the types, tool or scope
            assert isinstance(result, Deny)
            continue
        assert isinstance(result, expected_kind(step))
        if isinstance(result, Deny):
            approval_denied = step.answer == "hold"
            assert result.code is (DenyCode.APPROVAL_DENIED if approval_denied else DenyCode.POLICY)


@EXAMPLES
@given(run=steps(tuple(spec.name for spec in TOOLS)), tamper=st.booleans())
@example(run=lookup_steps()[1:2], tamper=False)
@example(run=lookup_steps()[1:2], tamper=True)
def test_a_returned_hold_runs_only_for_exactly_the_approved_call(
    returning: Harness, run: list[Step], tamper: bool
) -> None:
    rig = returning.rig
    for step in run:
        returning.policy.answer = step.answer
        result = rig.firewall.run(step.call, rig.tool(step.call.call_id))
        check_property(rig, step.call, result)
        if isinstance(result, Hold):
            assert step.answer == "hold"
            approve_and_resume(rig, step.call, result, tamper=tamper)


def approve_and_resume(rig: Rig, call: ToolCall, hold: Hold, *, tamper: bool) -> None:
    """A supervisor approves the hold; the call resumes as approved, or with other arguments."""
    record = rig.approvals.approve(hold.hold_id, "alice")
    # "tampered" is longer than any drawn argument name, so the arguments really change.
    resumed = call.model_copy(update={"args": {**call.args, "tampered": 1}}) if tamper else call
    decision = rig.firewall.resolve_hold(resumed, hold, record)
    if isinstance(decision, Allow):
        rig.firewall.run_allowed(resumed, rig.tool(call.call_id))
    assert (call.call_id in rig.ran) is not tamper
    if tamper:
        assert isinstance(decision, Deny)
        assert decision.code is DenyCode.APPROVAL_MISMATCH


@EXAMPLES
@given(run=steps(tuple(spec.name for spec in SHIPPED_TOOLS)))
def test_with_the_shipped_policy_nothing_runs_unless_allowed(shipped: Rig, run: list[Step]) -> None:
    for step in run:
        result = shipped.firewall.run(step.call, shipped.tool(step.call.call_id))
        check_property(shipped, step.call, result)
