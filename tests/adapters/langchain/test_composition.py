"""The firewall's LangChain middleware combined with LangChain's own, across re-runs.

Scenarios from LangChain's tests of ``HumanInTheLoopMiddleware``, ``ToolRetryMiddleware`` and
``ToolCallLimitMiddleware``, run as an attacker would: a reviewer's edit, a tool that pauses
the graph itself, a client that answers every interrupt with "approve", ids the model
reuses or leaves empty. Whatever the combination, the call that runs is the call the
firewall decided and audited, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from firewall.adapters.langchain import FirewallInterruptMiddleware, FirewallMiddleware
from langchain.agents.middleware import (
    AgentMiddleware,
    HumanInTheLoopMiddleware,
    ToolCallLimitMiddleware,
    ToolRetryMiddleware,
)
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from firewall.settings import GateSettings
from tests.adapters.langchain.composition_rig import (
    AGENT,
    Rig,
    Tools,
    agent,
    call,
    checkpointer,
    drive,
    failing_tool,
    interrupts,
    make_rig,
    start,
    thread,
    tool_messages,
    turn,
)

SYNC_ASYNC = pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
SAVERS = pytest.mark.parametrize("saver", ["memory", "sqlite"])


def firewall_of(kind: str, rig: Rig) -> FirewallMiddleware:
    if kind == "interrupt":
        return FirewallInterruptMiddleware(rig.firewall, AGENT, settle_s=0.01)
    return FirewallMiddleware(rig.firewall, AGENT)


KINDS = pytest.mark.parametrize("kind", ["middleware", "interrupt"])


# -- 1. a reviewer's edit runs only as a call the firewall decided -----------------------

EDITS = {
    "other arguments": {"name": "lookup", "args": {"customer_id": "c-999"}},
    "another tool": {"name": "pay", "args": {"amount": 5000.0}},
}


@KINDS
@SYNC_ASYNC
@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
@pytest.mark.parametrize("mode", ["batched", "per_call"])
def test_an_edit_by_hitl_inside_the_firewall_never_runs_undecided(
    tmp_path: Path, kind: str, use_async: bool, edit: dict[str, Any], mode: str
) -> None:
    """[Firewall, HITL]: the reviewer's edit reaches the tool after the firewall decided."""
    if mode == "per_call" and edit["name"] != "lookup":
        pytest.skip("HITL per_call pins the edited tool's name (its response schema)")
    rig, tools = make_rig(tmp_path), Tools()
    hitl = HumanInTheLoopMiddleware(interrupt_on={"lookup": True}, interrupt_mode=mode)  # type: ignore[arg-type]
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("lookup", customer_id="c-1"))],
            tools.all(),
            [firewall_of(kind, rig), hitl],
            saver,
        )
        [asked] = interrupts(start(graph, thread(), use_async))
        answer: Any = {"type": "edit", "edited_action": edit}
        resume = {"decisions": [answer]} if mode == "batched" else answer
        if mode == "per_call":
            resume = {asked_id(graph): answer}
        result = drive(graph, Command(resume=resume), thread(), use_async)
    assert asked is not None
    rig.assert_ran_only_decided(tools.ran)
    assert ("pay", {"amount": 5000.0}) not in tools.ran
    [message] = tool_messages(result)
    assert message.status == "error"
    assert ("lookup", "ok") not in rig.outcomes()


def asked_id(graph: Any) -> str:
    """The id of the interrupt the agent paused on (per-call answers are keyed by it)."""
    [task] = [t for t in graph.get_state(thread()).tasks if t.interrupts]
    interrupt_id: str = task.interrupts[0].id
    return interrupt_id


@KINDS
@SYNC_ASYNC
@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_an_edit_by_hitl_outside_the_firewall_is_what_it_decides(
    tmp_path: Path, kind: str, use_async: bool, edit: dict[str, Any]
) -> None:
    """[HITL, Firewall]: the firewall decides (and audits) the reviewer's call, which runs."""
    rig, tools = make_rig(tmp_path), Tools()
    hitl = HumanInTheLoopMiddleware(interrupt_on={"lookup": True})
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("lookup", customer_id="c-1"))],
            tools.all(),
            [hitl, firewall_of(kind, rig)],
            saver,
        )
        start(graph, thread(), use_async)
        answer = {"decisions": [{"type": "edit", "edited_action": edit}]}
        drive(graph, Command(resume=answer), thread(), use_async)
    rig.assert_ran_only_decided(tools.ran)
    [decision] = rig.audited()
    assert (decision["tool"], decision["args"]) == (edit["name"], edit["args"])
    expected = [(edit["name"], edit["args"])] if edit["name"] == "lookup" else []
    assert tools.ran == expected


# -- 2. a re-run finds its decision --------------------------------------------------------


@KINDS
@SYNC_ASYNC
@SAVERS
def test_a_tool_that_pauses_itself_is_decided_once_and_audited_once(
    tmp_path: Path, kind: str, use_async: bool, saver: str
) -> None:
    """LangGraph re-runs the tool on resume: one decision, one outcome, the answer to the tool."""
    if saver == "sqlite" and use_async:
        pytest.skip("SqliteSaver is synchronous (AsyncSqliteSaver needs its own event loop)")
    rig, tools = make_rig(tmp_path), Tools()
    with checkpointer(saver, tmp_path) as cp:
        graph = agent(
            [turn(call("ask", question="sure?"))], tools.all(), [firewall_of(kind, rig)], cp
        )
        [asked] = interrupts(start(graph, thread(), use_async))
        assert asked == {"tool_question": "sure?"}
        result = drive(graph, Command(resume="yes"), thread(), use_async)
    assert tools.answers == ["yes"]
    assert [m.content for m in tool_messages(result)] == ["user said yes"]
    assert len(rig.decisions("ask")) == 1
    assert rig.outcomes() == [("ask", "ok")]


@KINDS
@SYNC_ASYNC
def test_a_paused_tool_with_a_budget_is_not_refused_on_resume(
    tmp_path: Path, kind: str, use_async: bool
) -> None:
    """A re-run is the same call: its budget reservation is its own, not a duplicate id."""
    rig, tools = make_rig(tmp_path), Tools()
    hitl = HumanInTheLoopMiddleware(interrupt_on={"charge": True}, interrupt_mode="per_call")
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("charge", order_id="o-1", amount=40.0))],
            tools.all(),
            [firewall_of(kind, rig), hitl],
            saver,
        )
        start(graph, thread(), use_async)
        result = drive(
            graph, Command(resume={asked_id(graph): {"type": "approve"}}), thread(), use_async
        )
    [message] = tool_messages(result)
    assert message.content == "charged 40.0 on o-1"
    assert tools.ran == [("charge", {"order_id": "o-1", "amount": 40.0})]
    assert len(rig.decisions("charge")) == 1


@SYNC_ASYNC
def test_hitl_per_call_after_a_held_call_asks_once_and_runs_once(
    tmp_path: Path, use_async: bool
) -> None:
    """[FirewallInterrupt, HITL per_call]: one hold, one human review, one run."""
    rig, tools = make_rig(tmp_path), Tools()
    hitl = HumanInTheLoopMiddleware(interrupt_on={"refund": True}, interrupt_mode="per_call")
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("refund", order_id="o-1", amount=50.0))],
            tools.all(),
            [firewall_of("interrupt", rig), hitl],
            saver,
        )
        [held] = interrupts(start(graph, thread(), use_async))
        rig.firewall.approvals.approve(held["hold_id"], "alice")
        [reviewed] = interrupts(drive(graph, Command(resume=True), thread(), use_async))
        assert reviewed["type"] == "tool_approval"
        answer = {asked_id(graph): {"type": "approve"}}
        result = drive(graph, Command(resume=answer), thread(), use_async)
    [message] = tool_messages(result)
    assert message.content == "refunded 50.0 on o-1"
    assert tools.ran == [("refund", {"order_id": "o-1", "amount": 50.0})]
    assert len(rig.holds()) == 1


@SYNC_ASYNC
def test_a_retry_outside_the_firewall_keeps_the_decision(tmp_path: Path, use_async: bool) -> None:
    """[ToolRetry, Firewall]: each attempt runs under the one decision and its budget."""
    rig, tools = make_rig(tmp_path), Tools(failures=1)
    retry = ToolRetryMiddleware(max_retries=2, initial_delay=0, jitter=False)
    graph = agent(
        [turn(call("charge", order_id="o-1", amount=40.0))],
        tools.all(),
        [retry, FirewallMiddleware(rig.firewall, AGENT)],
    )
    result = start(graph, thread(), use_async)
    [message] = tool_messages(result)
    assert message.content == "charged 40.0 on o-1"
    assert len(tools.ran) == 2
    assert len(rig.decisions("charge")) == 1
    assert rig.outcomes() == [("charge", "error"), ("charge", "ok")]


@KINDS
def test_a_call_limit_outside_the_firewall_still_decides_each_call(
    tmp_path: Path, kind: str
) -> None:
    """[ToolCallLimit, Firewall]: calls over the limit never reach the firewall or the tool."""
    rig, tools = make_rig(tmp_path), Tools()
    limit = ToolCallLimitMiddleware(tool_name="lookup", run_limit=1)
    calls = [
        call("lookup", "call_1", customer_id="c-1"),
        call("lookup", "call_2", customer_id="c-2"),
    ]
    with checkpointer("memory", tmp_path) as saver:
        graph = agent([turn(*calls)], tools.all(), [limit, firewall_of(kind, rig)], saver)
        start(graph, thread())
    rig.assert_ran_only_decided(tools.ran)
    assert len(tools.ran) == len(rig.decisions("lookup")) == 1


# -- 3. resume values reach the interrupt they answer ---------------------------------------


@SYNC_ASYNC
def test_hitl_never_receives_the_firewalls_resume_value(tmp_path: Path, use_async: bool) -> None:
    """A client answering every interrupt "approve" does not answer HITL's later question."""
    rig, tools = make_rig(tmp_path), Tools()
    hitl = HumanInTheLoopMiddleware(interrupt_on={"refund": True}, interrupt_mode="per_call")
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("refund", order_id="o-1", amount=50.0))],
            tools.all(),
            [firewall_of("interrupt", rig), hitl],
            saver,
        )
        [held] = interrupts(start(graph, thread(), use_async))
        # The client resumes too early (still pending), then after the approval.
        drive(graph, Command(resume={"type": "approve"}), thread(), use_async)
        rig.firewall.approvals.approve(held["hold_id"], "alice")
        result = drive(graph, Command(resume={"type": "approve"}), thread(), use_async)
    assert tools.ran == []
    assert [i.get("type") for i in interrupts(result)] in ([], ["firewall_hold"], ["tool_approval"])
    rig.assert_ran_only_decided(tools.ran)


@SYNC_ASYNC
def test_a_tools_own_question_never_receives_the_firewalls_resume_value(
    tmp_path: Path, use_async: bool
) -> None:
    """A held tool that asks its own question: the firewall's resume value never answers it."""
    rig, tools = make_rig(tmp_path), Tools()
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("confirm_refund", order_id="o-1"))],
            tools.all(),
            [firewall_of("interrupt", rig)],
            saver,
        )
        [held] = interrupts(start(graph, thread(), use_async))
        rig.firewall.approvals.approve(held["hold_id"], "alice")
        [asked] = interrupts(drive(graph, Command(resume="decided"), thread(), use_async))
        assert asked == {"tool_question": "refund o-1?"}
        result = drive(graph, Command(resume="yes"), thread(), use_async)
    assert tools.answers == ["yes"]
    assert [m.content for m in tool_messages(result)] == ["customer said yes"]
    assert len(rig.holds()) == 1
    assert rig.outcomes() == [("confirm_refund", "ok")]


def test_a_held_call_resumed_many_times_waits_at_most_once_per_resume(tmp_path: Path) -> None:
    """No resume replays the earlier ones (each with a settle wait)."""
    rig, tools = make_rig(tmp_path), Tools()
    waits: list[float] = []
    wait = rig.firewall.approvals.wait

    def counted(hold_id: str, timeout_s: float | None = None) -> Any:
        if timeout_s:
            waits.append(timeout_s)
        return wait(hold_id, timeout_s=timeout_s)

    rig.firewall.approvals.wait = counted  # type: ignore[method-assign]
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("refund", order_id="o-1", amount=5.0))],
            tools.all(),
            [firewall_of("interrupt", rig)],
            saver,
        )
        start(graph, thread())
        for _ in range(4):
            waits.clear()
            drive(graph, Command(resume="wake up"), thread(), use_async=False)
            assert len(waits) <= 1


# -- 4. ids as the model sends them ---------------------------------------------------------


@SYNC_ASYNC
def test_a_held_call_with_an_empty_id_resumes_and_runs_once(
    tmp_path: Path, use_async: bool
) -> None:
    rig, tools = make_rig(tmp_path), Tools()
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("refund", "", order_id="o-1", amount=5.0))],
            tools.all(),
            [firewall_of("interrupt", rig)],
            saver,
        )
        [held] = interrupts(start(graph, thread(), use_async))
        rig.firewall.approvals.approve(held["hold_id"], "alice")
        result = drive(graph, Command(resume=True), thread(), use_async)
    [message] = tool_messages(result)
    assert (message.content, message.tool_call_id) == ("refunded 5.0 on o-1", "")
    assert len(rig.holds()) == 1


@KINDS
def test_a_refusal_answers_the_empty_id_the_model_sent(tmp_path: Path, kind: str) -> None:
    rig, tools = make_rig(tmp_path), Tools()
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("pay", "", amount=5.0))], tools.all(), [firewall_of(kind, rig)], saver
        )
        result = start(graph, thread())
    [message] = tool_messages(result)
    assert (message.status, message.tool_call_id) == ("error", "")
    assert tools.ran == []


def test_an_id_the_model_reuses_in_a_later_turn_names_a_new_call(tmp_path: Path) -> None:
    """Fake and some real models send call_1 every turn: the second refund gets its own hold."""
    rig, tools = make_rig(tmp_path), Tools()
    refund = call("refund", "call_1", order_id="o-1", amount=5.0)
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(refund), turn(refund)], tools.all(), [firewall_of("interrupt", rig)], saver
        )
        [first] = interrupts(start(graph, thread()))
        rig.firewall.approvals.approve(first["hold_id"], "alice")
        [second] = interrupts(drive(graph, Command(resume=True), thread(), use_async=False))
    assert second["type"] == "firewall_hold"
    assert second["hold_id"] != first["hold_id"]
    assert len(tools.ran) == 1


@KINDS
def test_two_threads_using_call_1_never_share_a_hold(tmp_path: Path, kind: str) -> None:
    rig, tools = make_rig(tmp_path), Tools()
    settings = GateSettings(hold_mode="return")
    rig = make_rig(tmp_path, settings=settings) if kind == "middleware" else rig
    refund = call("refund", "call_1", order_id="o-1", amount=5.0)
    with checkpointer("memory", tmp_path) as saver:
        graph = agent([turn(refund)], tools.all(), [firewall_of(kind, rig)], saver)
        start(graph, thread("A"))
        rig.firewall.approvals.approve(rig.pending_hold(), "alice")
        graph_b = agent([turn(refund)], tools.all(), [firewall_of(kind, rig)], saver)
        start(graph_b, thread("B"))
    assert tools.ran == []
    assert len(rig.holds()) == 2


# -- 5. the log shows what happened --------------------------------------------------------


@KINDS
def test_a_declared_tool_the_agent_lacks_gets_no_hold_and_no_ok(tmp_path: Path, kind: str) -> None:
    rig, tools = make_rig(tmp_path), Tools()
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [
                turn(
                    call("refund", order_id="o-1", amount=5.0),
                    call("lookup", "call_2", customer_id="c-1"),
                )
            ],
            tools.named("pay"),
            [firewall_of(kind, rig)],
            saver,
        )
        result = start(graph, thread())
    assert interrupts(result) == []
    assert rig.holds() == []
    assert rig.outcomes() == []
    assert all(m.status == "error" for m in tool_messages(result))
    assert {e["code"] for e in rig.audited()} == {"unknown_tool"}


@KINDS
def test_an_error_message_from_the_tool_is_audited_as_an_error(tmp_path: Path, kind: str) -> None:
    rig, ran = make_rig(tmp_path), []  # type: ignore[var-annotated]
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("lookup", customer_id="c-1"))],
            [failing_tool(ran)],
            [firewall_of(kind, rig)],
            saver,
        )
        result = start(graph, thread())
    [message] = tool_messages(result)
    assert message.status == "error"
    assert rig.outcomes() == [("lookup", "error")]


def test_a_call_returned_as_pending_is_not_answered_as_a_success(tmp_path: Path) -> None:
    rig, tools = make_rig(tmp_path, settings=GateSettings(hold_mode="return")), Tools()
    graph = agent(
        [turn(call("refund", order_id="o-1", amount=5.0))],
        tools.all(),
        [FirewallMiddleware(rig.firewall, AGENT)],
    )
    result = start(graph, thread())
    [message] = tool_messages(result)
    assert message.status == "error"
    assert tools.ran == []


class Rewriter(AgentMiddleware[Any, Any]):
    """Any middleware that changes the call on its way to the tool (not only HITL's edit)."""

    def __init__(self, tool_call: dict[str, Any]) -> None:
        super().__init__()
        self._tool_call = tool_call

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Any]
    ) -> Any:
        return handler(request.override(tool_call={**request.tool_call, **self._tool_call}))

    async def awrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Awaitable[Any]]
    ) -> Any:
        return await handler(request.override(tool_call={**request.tool_call, **self._tool_call}))


@KINDS
@SYNC_ASYNC
def test_any_middleware_inside_the_firewall_that_changes_the_call_runs_nothing(
    tmp_path: Path, kind: str, use_async: bool
) -> None:
    """The changed call is refused and audited as what it was; the decided one did not run."""
    rig, tools = make_rig(tmp_path), Tools()
    rewriter = Rewriter({"args": {"customer_id": "c-666"}})
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("lookup", customer_id="c-1"))],
            tools.all(),
            [firewall_of(kind, rig), rewriter],
            saver,
        )
        result = start(graph, thread(), use_async)
    assert tools.ran == []
    [message] = tool_messages(result)
    assert (message.status, message.tool_call_id) == ("error", "call_1")
    assert "changed after the firewall decided" in str(message.content)
    refused = [e for e in rig.audited() if e["outcome"] == "deny"]
    assert [(e["code"], e["args"]) for e in refused] == [("invalid_call", {"customer_id": "c-666"})]
    assert rig.outcomes() == [("lookup", "error")]


class Answerer(AgentMiddleware[Any, Any]):
    """Middleware that answers a call itself (a cache, a call limit) without running the tool."""

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Any]
    ) -> Any:
        return ToolMessage("cached", tool_call_id=request.tool_call["id"], name="lookup")

    async def awrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Awaitable[Any]]
    ) -> Any:
        return self.wrap_tool_call(request, lambda r: None)


@KINDS
@SYNC_ASYNC
def test_a_call_answered_inside_the_firewall_is_not_audited_as_run(
    tmp_path: Path, kind: str, use_async: bool
) -> None:
    """[Firewall, Answerer]: the tool never ran, so its outcome is no "ok"."""
    rig, tools = make_rig(tmp_path), Tools()
    with checkpointer("memory", tmp_path) as saver:
        graph = agent(
            [turn(call("lookup", customer_id="c-1"))],
            tools.all(),
            [firewall_of(kind, rig), Answerer()],
            saver,
        )
        start(graph, thread(), use_async)
    assert tools.ran == []
    assert rig.outcomes() == [("lookup", "error")]
    [outcome] = rig.audited("outcome")
    assert "did not run" in outcome["details"]["error"]
