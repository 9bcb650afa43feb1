"""Property: whatever tool call the model sends, the adapter answers it and audits the decision.

Tool calls are drawn at random, as a model, a provider layer or another middleware could
hand them over: arguments that are JSON objects (named like LangChain's own parameters,
or with lone surrogates), or no object at all; ids that are text, numbers or missing;
tool names known, unknown or with lone surrogates. Through ``guard_tools`` and through
``FirewallMiddleware`` the answer is always a ``ToolMessage`` for that call, never an
exception; the tool ran exactly when the recorded decision allowed it; and every call
added exactly one decision record to the log (read with plain SQL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from firewall.adapters.langchain import FirewallMiddleware, guard_tools
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool

from tests.gate_helpers import AGENT, make_rig
from tests.malformed.corpus import nested_dicts, nested_lists
from tests.malformed.strategies import json_like

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RESERVED = ["self", "config", "run_manager", "callbacks", "tool_call_id", "kwargs", "args"]

surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
odd_text = st.text(max_size=8) | surrogates | st.sampled_from(["\x00", "\u202e", "x" * 300])
names = st.sampled_from(["customer_id", *RESERVED]) | odd_text
objects = st.dictionaries(names, json_like | odd_text, max_size=4)
well_formed = st.fixed_dictionaries({"customer_id": st.sampled_from(["c-1", "c-2"])})
deep = st.integers(60, 70).map(nested_lists) | st.integers(60, 70).map(nested_dicts)
not_objects = st.none() | st.integers() | st.booleans() | st.text(max_size=20) | st.lists(json_like)
arguments = (
    well_formed
    | objects
    | st.builds(lambda value: {"customer_id": "c-1", "x": value}, deep)
    | not_objects
    | st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2)
)
ids = st.none() | st.text(max_size=10) | surrogates | st.integers()
tool_names = (
    st.sampled_from(["lookup", "pay", "drop_tables"]) | odd_text | st.none() | st.integers()
)


@st.composite
def tool_calls(draw: st.DrawFn) -> dict[str, Any]:
    """A tool call dict as some layer might hand it over, fields missing or of odd types."""
    fields = {"name": draw(tool_names), "args": draw(arguments), "id": draw(ids)}
    kept = draw(st.sets(st.sampled_from(sorted(fields)), min_size=1))
    return {key: fields[key] for key in sorted(kept | {"name"})} | {"type": "tool_call"}


def tool_call_dict(args: Any, call_id: Any = "tc-1", name: Any = "lookup") -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


KNOWN_CRASHES = [
    tool_call_dict({"self": 1, "customer_id": 7}),
    tool_call_dict({"customer_id": "x" * 70_000, "config": 1}),
    tool_call_dict('{"customer_id": "c-1"}'),
    tool_call_dict({"customer_id": "c-1"}, None),
    tool_call_dict({}, "tc-1", "look\ud800up"),
]


def with_examples(test: Any) -> Any:
    """The tool calls that crashed an adapter (or went unaudited) before, always tried."""
    for call in KNOWN_CRASHES:
        test = example(sent=call)(test)
    return test


@dataclass
class Harness:
    db: Path
    guarded: BaseTool
    middleware: FirewallMiddleware
    lookup: BaseTool
    ran: list[str]

    def decisions(self) -> list[tuple[str, str | None]]:
        with sqlite3.connect(self.db) as connection:
            rows = connection.execute(
                "SELECT json_extract(body, '$.entry.outcome'), json_extract(body, '$.entry.code')"
                " FROM audit_records WHERE event = 'decision' ORDER BY seq"
            ).fetchall()
        return [(outcome, code) for outcome, code in rows]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp_path = tmp_path_factory.mktemp("adapters")
    rig = make_rig(tmp_path)
    ran: list[str] = []

    @tool
    def lookup(customer_id: str) -> str:
        """Look up a customer."""
        ran.append(customer_id)
        return f"customer {customer_id}"

    [guarded] = guard_tools([lookup], rig.firewall, AGENT, session_id="s-1")
    middleware = FirewallMiddleware(rig.firewall, AGENT)
    yield Harness(tmp_path / "firewall.db", guarded, middleware, lookup, ran)
    rig.firewall.close()


def expected_reply_id(sent: dict[str, Any], answer: ToolMessage) -> str:
    """The model's id as text; a call without one gets the firewall's own id."""
    model_id = sent.get("id")
    if model_id is None:
        assert answer.tool_call_id.startswith("call_")
        return answer.tool_call_id
    return model_id if isinstance(model_id, str) else str(model_id)


def check(harness: Harness, sent: dict[str, Any], answer: Any, before: int, ran: int) -> None:
    """One answer for the call, one decision on the record, and a run exactly when allowed."""
    assert isinstance(answer, ToolMessage)
    assert answer.tool_call_id == expected_reply_id(sent, answer)
    decisions = harness.decisions()
    assert len(decisions) == before + 1
    [(outcome, code)] = decisions[before:]
    executed = len(harness.ran) > ran
    assert executed == (outcome == "allow")
    assert (answer.status == "success") == executed
    if not executed:
        assert str(answer.content).startswith(f"Tool call denied ({code}): ")


@EXAMPLES
@given(sent=tool_calls())
@with_examples
def test_a_guarded_tool_answers_any_tool_call_and_audits_it(
    harness: Harness, sent: dict[str, Any]
) -> None:
    before, ran = len(harness.decisions()), len(harness.ran)
    answer = harness.guarded.invoke(sent)
    check(harness, sent, answer, before, ran)


@EXAMPLES
@given(sent=tool_calls())
@with_examples
def test_the_middleware_answers_any_tool_call_and_audits_it(
    harness: Harness, sent: dict[str, Any]
) -> None:
    def execute(request: ToolCallRequest) -> ToolMessage:
        answer = harness.lookup.invoke({**request.tool_call, "type": "tool_call"})
        assert isinstance(answer, ToolMessage)
        return answer

    before, ran = len(harness.decisions()), len(harness.ran)
    tool_call = {key: value for key, value in sent.items() if key != "type"}
    known = harness.lookup if tool_call.get("name") == "lookup" else None
    runtime = SimpleNamespace(config={"configurable": {"thread_id": "thread-1"}})
    request = ToolCallRequest(tool_call=tool_call, tool=known, state={}, runtime=runtime)  # type: ignore[arg-type]
    answer = harness.middleware.wrap_tool_call(request, execute)
    check(harness, sent, answer, before, ran)
