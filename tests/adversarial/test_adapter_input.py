"""Whatever the model sends, the agent gets the firewall's refusal and runs on; it is audited.

Attacked from outside: ``create_agent`` with a scripted fake model, its tools wrapped by
``guard_tools`` or guarded by ``FirewallMiddleware`` / ``FirewallInterruptMiddleware``, the
audit log read with plain SQL. Argument names LangChain itself uses (``self``, ``config``,
``run_manager``...), arguments that are no JSON object, oversized or deeply nested ones,
lone surrogates, odd ids: none may crash the agent, slip past the firewall unseen, or be
refused without a decision record.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from firewall.adapters.langchain import guard_tools
from langchain_core.messages import ToolMessage

from firewall.audit.keyfiles import default_public_keys
from firewall.types import Deny, DenyCode, ToolCall
from tests.adversarial.adapter_rig import (
    MIDDLEWARES,
    UNCHECKPOINTED,
    WIRINGS,
    AgentRun,
    Wiring,
    arun_agent,
    audited,
    lookup_tool,
    refusals,
    run_agent,
    turn,
)
from tests.faults.verdict import assert_verified
from tests.gate_helpers import AGENT, make_rig
from tests.malformed.corpus import nested_dicts, nested_lists

RESERVED = (
    "self",
    "config",
    "run_manager",
    "callbacks",
    "tool_call_id",
    "kwargs",
    "args",
    "__class__",
    "v__args",
)
"""Parameter names of ``BaseTool.run`` / ``_run`` and of pydantic's own machinery."""


def call(args: Any, call_id: Any = "tc-1", name: Any = "lookup") -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def assert_refused(run: AgentRun, code: str, says: str) -> None:
    """The run finished; the model read the firewall's refusal; nothing ran; it is audited."""
    assert run.finished
    [message] = run.tool_messages
    assert message.status == "error"
    assert str(message.content).startswith(f"Tool call denied ({code}): ")
    assert says in str(message.content)
    assert run.ran == []
    [decision] = audited(run.db)
    assert (decision["outcome"], decision["code"]) == ("deny", code)
    assert message.content == f"Tool call denied ({code}): " + "; ".join(decision["reasons"])


# -- model output create_agent accepts ----------------------------------------------------


@pytest.mark.parametrize("wiring", WIRINGS)
@pytest.mark.parametrize("name", RESERVED)
def test_an_argument_named_like_a_langchain_parameter_is_refused(
    tmp_path: Path, wiring: Wiring, name: str
) -> None:
    """The firewall sees the argument as sent (it is not the tool's) and refuses the call."""
    run = run_agent(tmp_path, wiring, [turn(call({name: "x", "customer_id": "c-1"}))])
    assert_refused(run, "invalid_args", f"argument {name!r} is not allowed")


@pytest.mark.parametrize("wiring", WIRINGS)
@pytest.mark.parametrize("name", ["self", "config", "run_manager", "kwargs"])
async def test_a_reserved_name_beside_a_bad_argument_is_refused_async(
    tmp_path: Path, wiring: Wiring, name: str
) -> None:
    """Arguments LangChain's own validation rejects reach the firewall, never ``**kwargs``."""
    run = await arun_agent(tmp_path, wiring, [turn(call({name: 1, "customer_id": 7}))])
    assert_refused(run, "invalid_args", "invalid arguments for lookup")


OVERSIZED = {
    "a 100 KB string beside self": {"customer_id": "x" * 100_000, "self": 1},
    "a 100 KB string beside config": {"customer_id": "x" * 100_000, "config": {}},
    "a 100 KB key": {"customer_id": "c-1", "k" * 100_000: 1},
}
DEEP = {
    "lists 500 deep under self": {"customer_id": "c-1", "self": nested_lists(500)},
    "objects 5,000 deep under config": {"customer_id": "c-1", "config": nested_dicts(5_000)},
    "lists 100 deep under run_manager": {"customer_id": "c-1", "run_manager": nested_lists(100)},
}


@pytest.mark.parametrize("wiring", WIRINGS)
@pytest.mark.parametrize("args", OVERSIZED.values(), ids=OVERSIZED.keys())
def test_oversized_arguments_are_refused_whatever_they_are_named(
    tmp_path: Path, wiring: Wiring, args: dict[str, Any]
) -> None:
    run = run_agent(tmp_path, wiring, [turn(call(args))])
    assert_refused(run, "invalid_args", "over the 65536-byte limit")


@pytest.mark.parametrize("wiring", UNCHECKPOINTED)
@pytest.mark.parametrize("args", DEEP.values(), ids=DEEP.keys())
async def test_deep_arguments_are_refused_whatever_they_are_named(
    tmp_path: Path, wiring: Wiring, args: dict[str, Any]
) -> None:
    run = await arun_agent(tmp_path, wiring, [turn(call(args))])
    assert_refused(run, "invalid_args", "nests more than 64 levels deep")


SURROGATES = {
    "a lone surrogate as a key": {"customer_id": "c-1", "\ud800": 1},
    "a lone surrogate in a value": {"customer_id": "c-\udfff"},
    "a split surrogate pair as a key": {"customer_id": "c-1", "\ud83d\ude00": "x"},
}


@pytest.mark.parametrize("wiring", UNCHECKPOINTED)
@pytest.mark.parametrize("args", SURROGATES.values(), ids=SURROGATES.keys())
def test_lone_surrogates_in_arguments_are_refused_and_audited(
    tmp_path: Path, wiring: Wiring, args: dict[str, Any]
) -> None:
    run = run_agent(tmp_path, wiring, [turn(call(args))])
    assert_refused(run, "invalid_args", "not representable as JSON")


@pytest.mark.parametrize("wiring", MIDDLEWARES)
@pytest.mark.parametrize("name", ["look\ud800up", "\udfff", "\ud83d\ude00", "x\ud800" * 200])
def test_a_tool_name_with_lone_surrogates_is_refused_and_audited_escaped(
    tmp_path: Path, wiring: Wiring, name: str
) -> None:
    """The record keeps the name escaped (and its digest); the chain still verifies."""
    run = run_agent(tmp_path, wiring, [turn(call({}, name=name))])
    assert_refused(run, "unknown_tool", "unknown tool")
    [decision] = audited(run.db)
    assert decision["tool"] == name[:256].encode("utf-8", "backslashreplace").decode("utf-8")
    sent = decision["details"]["tool_name_escaped"]
    assert sent["length"] == len(name)
    assert len(sent["sha256"]) == 64
    url = f"sqlite:///{run.db}"
    assert_verified(url, default_public_keys(url)[0])


UNPRINTABLE = {
    "a NUL and terminal escapes": "c-1\x00\x1b[2J\x1b]0;pwned\x07",
    "bidi overrides and zero-width characters": "c-\u202e1\u200b\u2066",
    "a 60 KB string": "c" * 60_000,
}


@pytest.mark.parametrize("wiring", WIRINGS)
@pytest.mark.parametrize("text", UNPRINTABLE.values(), ids=UNPRINTABLE.keys())
@pytest.mark.parametrize("where", ["name", "value"])
async def test_unprintable_strings_never_crash_and_every_decision_is_recorded(
    tmp_path: Path, wiring: Wiring, text: str, where: str
) -> None:
    """As a value the policy decides; as an argument name the firewall sees it and refuses."""
    args = {"customer_id": text} if where == "value" else {"customer_id": "c-1", text: 1}
    run = await arun_agent(tmp_path, wiring, [turn(call(args))])
    assert run.finished
    [message] = run.tool_messages
    [decision] = audited(run.db)
    if where == "name":
        assert (decision["outcome"], decision["code"]) == ("deny", "invalid_args")
    if decision["outcome"] == "allow":
        assert (message.status, run.ran) == ("success", [text])
    else:
        assert message.status == "error"
        assert message.content == f"Tool call denied ({decision['code']}): " + "; ".join(
            decision["reasons"]
        )
        assert run.ran == []


@pytest.mark.parametrize("wiring", WIRINGS)
async def test_a_tool_call_without_an_id_is_answered_both_ways(
    tmp_path: Path, wiring: Wiring
) -> None:
    """No id from the model: the allowed call runs, the refused one is refused, nothing crashes."""
    turns = [turn(call({"customer_id": "c-1"}, None)), turn(call({"customer_id": 7}, None))]
    run = await arun_agent(tmp_path, wiring, turns)
    assert run.finished
    ok, refused = run.tool_messages
    assert (ok.status, ok.content) == ("success", "customer c-1")
    assert refused.status == "error"
    assert str(refused.content).startswith("Tool call denied (invalid_args): ")
    assert run.ran == ["c-1"]
    assert refusals(run.db) == [("lookup", "invalid_args")]


# -- tool calls a provider layer or an outer middleware hands on as they came ---------------
# (With guard_tools, LangGraph's tool node itself fails on these before any tool is called;
# a guarded tool invoked with them directly is attacked further below.)

NOT_AN_OBJECT = {
    "args a JSON string": ('{"customer_id": "c-1"}', "not a string"),
    "args a list": (["c-1"], "not an array"),
    "args null": (None, "not null"),
    "args a number": (7, "not a number"),
    "args a boolean": (True, "not a boolean"),
    "a non-string argument name": ({"customer_id": "c-1", 1: "x"}, "names must be strings"),
}


@pytest.mark.parametrize("wiring", MIDDLEWARES)
@pytest.mark.parametrize(("args", "says"), NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_arguments_that_are_no_json_object_are_refused_and_audited(
    tmp_path: Path, wiring: Wiring, args: Any, says: str
) -> None:
    run = run_agent(
        tmp_path,
        wiring,
        [turn(call({"customer_id": "c-1"}))],
        reshape=lambda tc: tc | {"args": args},
    )
    assert_refused(run, "invalid_args", says)
    assert run.tool_messages[0].tool_call_id == "tc-1"


@pytest.mark.parametrize("wiring", MIDDLEWARES)
async def test_arguments_that_are_no_json_object_are_refused_async(
    tmp_path: Path, wiring: Wiring
) -> None:
    reshape = lambda tc: tc | {"args": json.dumps(tc["args"])}  # noqa: E731
    run = await arun_agent(tmp_path, wiring, [turn(call({"customer_id": "c-1"}))], reshape)
    assert_refused(run, "invalid_args", "not a string")


ODD_CALLS = {
    "no args": lambda tc: {k: v for k, v in tc.items() if k != "args"},
    "no id, bad args": lambda tc: {k: v for k, v in tc.items() if k != "id"} | {"args": "x"},
    "an integer id": lambda tc: tc | {"id": 42, "args": []},
}


@pytest.mark.parametrize("wiring", MIDDLEWARES)
@pytest.mark.parametrize("reshape", ODD_CALLS.values(), ids=ODD_CALLS.keys())
def test_a_tool_call_missing_fields_or_with_odd_types_is_refused(
    tmp_path: Path, wiring: Wiring, reshape: Any
) -> None:
    run = run_agent(tmp_path, wiring, [turn(call({"customer_id": "c-1"}))], reshape)
    assert_refused(run, "invalid_args", "arguments must be a JSON object")


# -- guard_tools invoked directly ---------------------------------------------------------


def guarded_lookup(tmp_path: Path) -> tuple[Any, list[str]]:
    rig = make_rig(tmp_path)
    ran: list[str] = []
    [guarded] = guard_tools([lookup_tool(ran)], rig.firewall, AGENT, session_id="s-1")
    return guarded, ran


ODD_TOOL_CALLS = {
    **{name: (call(args), says) for name, (args, says) in NOT_AN_OBJECT.items()},
    "no args": ({"name": "lookup", "id": "tc-1", "type": "tool_call"}, "not null"),
    "no id, args a string": ({"name": "lookup", "args": "x", "type": "tool_call"}, "a string"),
    "an integer id, args a list": (call(["c-1"], 42), "not an array"),
}


@pytest.mark.parametrize(("given", "says"), ODD_TOOL_CALLS.values(), ids=ODD_TOOL_CALLS.keys())
async def test_a_guarded_tool_refuses_an_odd_tool_call_with_a_tool_message(
    tmp_path: Path, given: dict[str, Any], says: str
) -> None:
    guarded, ran = guarded_lookup(tmp_path)
    for answer in [guarded.invoke(given), await guarded.ainvoke(given)]:
        assert isinstance(answer, ToolMessage)
        assert answer.status == "error"
        assert answer.tool_call_id == str(given.get("id", answer.tool_call_id))
        assert str(answer.content).startswith("Tool call denied (invalid_args): ")
        assert says in str(answer.content)
    assert ran == []
    assert refusals(tmp_path / "firewall.db") == [("lookup", "invalid_args")] * 2


@pytest.mark.parametrize("given", ["c-1", '{"customer_id": "c-1"}', ["c-1"], 7])
async def test_a_guarded_tool_invoked_with_no_object_answers_the_refusal(
    tmp_path: Path, given: Any
) -> None:
    """Plain input (no tool call): the denial comes back as text, as LangChain answers errors."""
    guarded, ran = guarded_lookup(tmp_path)
    answers = [guarded.invoke(given), await guarded.ainvoke(given)]
    if isinstance(given, str):
        answers += [guarded.run(given), await guarded.arun(given)]
    for answer in answers:
        assert isinstance(answer, str)
        assert answer.startswith("Tool call denied (invalid_args): ")
        assert "arguments must be a JSON object" in answer
    assert ran == []
    assert refusals(tmp_path / "firewall.db") == [("lookup", "invalid_args")] * len(answers)


@pytest.mark.parametrize(
    "args",
    [{"customer_id": nested_lists(100_000)}, {"self": nested_dicts(1_000)}, {"x" * 70_000: 1}],
    ids=["lists 100,000 deep", "objects 1,000 deep under self", "a 70 KB name"],
)
async def test_a_guarded_tool_run_directly_refuses_what_it_cannot_print(
    tmp_path: Path, args: dict[str, Any]
) -> None:
    """``run`` / ``arun`` (as older agents call tools) refuse such input instead of crashing."""
    guarded, ran = guarded_lookup(tmp_path)
    answers = [
        guarded.run(args),
        await guarded.arun(args),
        guarded.run(args, tool_call_id="tc-1"),
        await guarded.arun(args, tool_call_id="tc-1"),
    ]
    assert all(isinstance(answer, str) for answer in answers[:2])
    assert all(isinstance(answer, ToolMessage) for answer in answers[2:])
    for answer in answers:
        text = str(getattr(answer, "content", answer))
        assert text.startswith("Tool call denied (invalid_args): ")
    assert ran == []
    assert refusals(tmp_path / "firewall.db") == [("lookup", "invalid_args")] * 4


@pytest.mark.parametrize("call_id", [None, 42, "tc-\ud800", ""])
def test_a_guarded_tool_answers_a_tool_call_with_a_tool_message(
    tmp_path: Path, call_id: Any
) -> None:
    """Whatever the id, a tool call gets a ToolMessage the agent can pair with it."""
    guarded, ran = guarded_lookup(tmp_path)
    ok = guarded.invoke(call({"customer_id": "c-1"}, call_id))
    refused = guarded.invoke(call({"customer_id": "c-1", "config": {}}, call_id))
    assert isinstance(ok, ToolMessage)
    assert isinstance(refused, ToolMessage)
    assert (ok.status, refused.status) == ("success", "error")
    assert ran == ["c-1"]
    assert refusals(tmp_path / "firewall.db") == [("lookup", "invalid_args")]


# -- the gate itself: a refusal is audited whatever the name -------------------------------

ODD_NAMES = {
    "a lone high surrogate": "look\ud800up",
    "a lone low surrogate": "\udfff",
    "a split surrogate pair": "\ud83d\ude00",
    "surrogates, NUL and bidi controls": "\x00\u202e\ud800lookup",
    "a surrogate in a 300-character name": "x" * 100 + "\ud800" + "x" * 199,
}


@pytest.mark.parametrize("name", ODD_NAMES.values(), ids=ODD_NAMES.keys())
def test_the_gate_refuses_and_audits_a_tool_name_with_lone_surrogates(
    tmp_path: Path, name: str
) -> None:
    """Unknown tool, said so, on the record with the name escaped and its exact digest."""
    rig = make_rig(tmp_path)
    sent = ToolCall(tool=name, args={"customer_id": "c-1"}, principal=AGENT, session_id="s-1")
    result = rig.firewall.run(sent, rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.UNKNOWN_TOOL
    assert rig.ran == []
    [decision] = audited(tmp_path / "firewall.db")
    assert (decision["call_id"], decision["code"]) == (sent.call_id, "unknown_tool")
    assert decision["tool"] == name[:256].encode("utf-8", "backslashreplace").decode("utf-8")
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    assert decision["details"]["tool_name_escaped"] == {"length": len(name), "sha256": digest}
    assert decision["reasons"] == list(result.reasons)
    url = f"sqlite:///{tmp_path / 'firewall.db'}"
    assert_verified(url, default_public_keys(url)[0])
