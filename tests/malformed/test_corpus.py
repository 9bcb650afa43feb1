"""Every malformed input is refused with a reason naming the problem, audited, never run,
and the firewall keeps serving well-formed calls afterwards."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from firewall.gate import Executed
from firewall.session import RECENT_EVENTS, SessionEvent, summarized
from firewall.stages.policy import FactsProvider
from firewall.types import Deny
from tests.malformed.corpus import REFUSALS, UNBUILDABLE, Refusal, Unbuildable, nested_dicts
from tests.malformed.rig import build_rig, call, runs_normally

READABLE_CHARACTERS = 600


def facts_for_bad_lookup(facts: Callable[[], Mapping[str, Any]]) -> FactsProvider:
    """The trusted lookup: ``facts()`` for the malformed call, nothing for the normal one."""
    return lambda lookup: facts() if lookup.args.get("customer_id") == "c-bad" else {}


@pytest.mark.parametrize("entry", REFUSALS, ids=lambda entry: entry.name)
def test_malformed_call_is_denied_audited_and_never_runs(entry: Refusal, tmp_path: Path) -> None:
    facts = {"crm_lookup": facts_for_bad_lookup(entry.facts)} if entry.facts else None
    rig = build_rig(tmp_path, facts=facts)
    bad = entry.build()

    result = rig.firewall.run(bad, rig.tool("malformed"))

    assert isinstance(result, Deny), result
    assert result.code is entry.code, result.reasons
    reason = "; ".join(result.reasons)
    for part in entry.says:
        assert part in reason
    assert len(result.message()) < READABLE_CHARACTERS
    assert rig.ran == []
    records = rig.audit.records_for_call(bad.call_id)
    assert [(r.event, r.outcome, r.code) for r in records] == [
        ("decision", "deny", entry.code.value)
    ]
    assert records[0].reasons == result.reasons
    assert runs_normally(rig)


@pytest.mark.parametrize("entry", UNBUILDABLE, ids=lambda entry: entry.name)
def test_types_refuse_to_construct(entry: Unbuildable) -> None:
    with pytest.raises(ValidationError, match=entry.says):
        entry.build()


def test_arguments_at_the_depth_limit_are_accepted_and_audited(tmp_path: Path) -> None:
    rig = build_rig(tmp_path)
    deepest = call("echo", payload=nested_dicts(63))
    assert isinstance(rig.firewall.run(deepest, rig.tool()), Executed)
    [decision, outcome] = rig.audit.records_for_call(deepest.call_id)
    assert (decision.outcome, outcome.outcome) == ("allow", "ok")
    assert decision.args == {"payload": nested_dicts(63)}


def test_a_refused_call_leaves_nothing_in_the_session_that_breaks_later_calls(
    tmp_path: Path,
) -> None:
    """An unknown tool's name and a refused call's subject stay out of the policy input."""
    rig = build_rig(tmp_path)
    rig.firewall.run(call("crm_lookup\x00", customer_id="c-1"), rig.tool())
    rig.firewall.run(call(customer_id="c-1\x00"), rig.tool())
    assert all("\x00" not in str(e) for e in rig.firewall.sessions.history("acme", "default"))
    assert runs_normally(rig)


def test_a_long_session_keeps_only_its_recent_history(tmp_path: Path) -> None:
    rig = build_rig(tmp_path)
    for index in range(10_000):
        event = SessionEvent(tool="crm_lookup", outcome="ok", subject=f"c-{index}")
        rig.firewall.sessions.record("acme", "default", event)
    history = rig.firewall.sessions.history("acme", "default")
    assert len(history) == RECENT_EVENTS
    assert history[-1].subject == "c-9999"
    assert rig.firewall.sessions.policy_view("acme", "default")["calls"] == 10_000
    assert runs_normally(rig)


class EndlessSessions:
    """A session store that never forgets: every session has ``size`` earlier calls in full."""

    def __init__(self, size: int) -> None:
        self.size = size

    def policy_view(self, tenant: str, session_id: str) -> dict[str, Any]:
        return {**summarized(session_id, []), "history": [self._event().policy_view()] * self.size}

    def history(self, tenant: str, session_id: str) -> list[SessionEvent]:
        return [self._event()] * self.size

    def record(self, tenant: str, session_id: str, event: SessionEvent) -> None:
        """Nothing to add: the history is already endless."""

    @staticmethod
    def _event() -> SessionEvent:
        return SessionEvent(tool="crm_lookup", outcome="ok", labels=("seen",), subject="c-1")


def test_a_policy_input_with_a_huge_session_history_still_decides(tmp_path: Path) -> None:
    rig = build_rig(tmp_path, sessions=EndlessSessions(5_000))
    assert runs_normally(rig)


def test_a_huge_tool_name_is_audited_as_a_prefix_with_its_length_and_digest(
    tmp_path: Path,
) -> None:
    rig = build_rig(tmp_path)
    name = "t" * 2**20
    bad = call(name, customer_id="c-1")
    assert isinstance(rig.firewall.run(bad, rig.tool()), Deny)
    [record] = rig.audit.records_for_call(bad.call_id)
    assert record.tool == name[:256]
    assert record.details["tool_name_cut"] == {
        "length": 2**20,
        "sha256": hashlib.sha256(name.encode()).hexdigest(),
    }


def test_a_tool_name_of_ordinary_length_is_audited_whole(tmp_path: Path) -> None:
    rig = build_rig(tmp_path)
    bad = call("crm_lookup\u200b", customer_id="c-1")
    rig.firewall.run(bad, rig.tool())
    [record] = rig.audit.records_for_call(bad.call_id)
    assert record.tool == "crm_lookup\u200b"
    assert "tool_name_cut" not in record.details
