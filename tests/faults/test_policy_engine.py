"""A policy engine that raises or answers garbage: the call is denied, audited, never run.

The engine wraps the real Rego engine and misbehaves on demand. After each broken answer
the same firewall, in the same process, decides the next call with the healthy engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from firewall.errors import PolicyError
from firewall.gate import Executed
from firewall.policy.document import DecisionDocument
from firewall.policy.embedded import RegoEngine
from firewall.types import Deny, DenyCode, ToolCall
from tests.faults.rig import FaultRig, fault_rig
from tests.faults.verdict import ALLOWED_AND_RAN, assert_verified, records_by_call
from tests.gate_helpers import call

Answer = Callable[[], Any]


def crash() -> Any:
    raise RuntimeError("engine state corrupted")


def give_up() -> Any:
    raise PolicyError("OPA server unreachable")


class MisbehavingEngine:
    """The Rego engine, except that ``misbehave`` (if set) answers the next evaluation."""

    def __init__(self, policy_dir: Path) -> None:
        self._healthy = RegoEngine(policy_dir)
        self.misbehave: Answer | None = None

    @property
    def revision(self) -> str:
        return self._healthy.revision

    def evaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        answer, self.misbehave = self.misbehave, None
        if answer is not None:
            result: DecisionDocument = answer()
            return result
        return self._healthy.evaluate(policy_input)

    async def aevaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        return self.evaluate(policy_input)

    def close(self) -> None:
        self._healthy.close()


@pytest.fixture
def engine(policy_dir: Path) -> MisbehavingEngine:
    return MisbehavingEngine(policy_dir)


@pytest.fixture
def rig(
    sqlite_url: str, key_files: tuple[Path, Path], policy_dir: Path, engine: MisbehavingEngine
) -> Iterator[FaultRig]:
    made = fault_rig(sqlite_url, key_files[0], policy_dir, policy=engine)
    yield made
    made.close()


def unchecked(**fields: Any) -> Callable[[], Any]:
    """A decision document built without validation (as a careless engine might)."""
    return lambda: DecisionDocument.model_construct(**fields)


GARBAGE = [
    pytest.param(lambda: None, "decision: must be a decision document, got NoneType", id="none"),
    pytest.param(lambda: "allow", "decision: must be a decision document, got str", id="a-string"),
    pytest.param(
        lambda: {"outcome": "allow", "reasons": []},
        "decision: must be a decision document, got dict",
        id="a-dict",
    ),
    pytest.param(
        unchecked(outcome="maybe", reasons=()),
        "decision.outcome: must be allow, deny or hold, got 'maybe'",
        id="unknown-outcome",
    ),
    pytest.param(unchecked(outcome="allow"), "decision.reasons: is missing", id="no-reasons"),
    pytest.param(
        unchecked(outcome="hold", reasons=(), obligations=None),
        "decision.obligations: must be an object, got None",
        id="no-obligations",
    ),
]


def refused_then_healthy(rig: FaultRig, engine: MisbehavingEngine, answer: Answer) -> Deny:
    """One call refused under ``answer``; the next call, healthy, runs. The refusal."""
    engine.misbehave = answer
    broken, healthy = call(), call()
    refusal = rig.firewall.run(broken, rig.tool("broken"))
    assert isinstance(refusal, Deny)
    assert isinstance(rig.firewall.run(healthy, rig.tool("healthy")), Executed)
    assert rig.ran == ["healthy"]
    rig.close()
    calls = records_by_call(rig.url)
    assert calls[broken.call_id] == [("decision", "deny", refusal.code.value)]
    assert calls[healthy.call_id] == ALLOWED_AND_RAN
    return refusal


def test_an_engine_that_raises_denies_the_call_as_an_internal_error(
    rig: FaultRig, engine: MisbehavingEngine, key_files: tuple[Path, Path]
) -> None:
    refusal = refused_then_healthy(rig, engine, crash)
    assert refusal.code is DenyCode.INTERNAL_ERROR
    assert refusal.reasons == ("check 'policy' failed (RuntimeError)",)
    assert_verified(rig.url, key_files[1])


def test_an_engine_that_cannot_decide_denies_the_call_as_a_policy_error(
    rig: FaultRig, engine: MisbehavingEngine, key_files: tuple[Path, Path]
) -> None:
    refusal = refused_then_healthy(rig, engine, give_up)
    assert refusal.code is DenyCode.POLICY_ERROR
    assert refusal.reasons == ("policy could not decide: OPA server unreachable",)
    assert_verified(rig.url, key_files[1])


@pytest.mark.parametrize(("answer", "problem"), GARBAGE)
def test_a_garbage_answer_denies_the_call_as_a_policy_error(
    rig: FaultRig,
    engine: MisbehavingEngine,
    key_files: tuple[Path, Path],
    answer: Answer,
    problem: str,
) -> None:
    refusal = refused_then_healthy(rig, engine, answer)
    assert refusal.code is DenyCode.POLICY_ERROR
    assert refusal.reasons == (f"policy could not decide: {problem}",)
    assert_verified(rig.url, key_files[1])


async def test_the_async_path_denies_a_crashing_engine_too(
    rig: FaultRig, engine: MisbehavingEngine
) -> None:
    engine.misbehave = crash
    broken: ToolCall = call()

    async def tool() -> str:
        rig.ran.append("broken")
        return "broken"

    refusal = await rig.firewall.arun(broken, tool)
    assert isinstance(refusal, Deny)
    assert refusal.code is DenyCode.INTERNAL_ERROR
    assert rig.ran == []
    rig.close()
    assert records_by_call(rig.url)[broken.call_id] == [("decision", "deny", "internal_error")]
