"""One ``create_agent`` tool step, with LangChain's own middleware or with the firewall.

Each invocation is one tool step: the scripted model asks for one ``crm_lookup``, the
tool runs, the model answers. No LLM is called (langchain-core's fake chat model), so
what is measured is the agent loop and the middleware around the tool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import (
    AgentMiddleware,
    HumanInTheLoopMiddleware,
    InterruptOnConfig,
    ToolCallLimitMiddleware,
)
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool

from firewall.adapters.langchain import FirewallMiddleware
from firewall.bench.guarded import (
    ARGS,
    PRINCIPAL,
    SESSION_ID,
    TOOL_NAME,
    embedded_firewall,
    lookup,
)
from firewall.bench.stats import CallFn
from firewall.types import new_id

REQUEST = "Look up customer c-100."
TOOL_CALLS_PER_RUN = 10
CONVERSATION: RunnableConfig = {"configurable": {"thread_id": SESSION_ID}}
"""Every step in one conversation: the firewall keeps one session per thread id."""


class ScriptedModel(GenericFakeChatModel):
    """langchain-core's fake chat model, accepting tools as a tool-calling model does."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self


def scripted_steps() -> Iterator[AIMessage]:
    """Forever: a turn asking for one lookup, then a closing answer."""
    while True:
        yield AIMessage(
            content="",
            tool_calls=[{"name": TOOL_NAME, "args": dict(ARGS), "id": new_id("call")}],
        )
        yield AIMessage(content="Customer c-100 is Ada Lovelace.")


class CountingTool:
    """The lookup as a LangChain tool, counting its runs so a step that skipped it shows."""

    def __init__(self) -> None:
        self.runs = 0
        self.tool: BaseTool = StructuredTool.from_function(
            func=self._run, name=TOOL_NAME, description="Read a customer record"
        )

    def _run(self, customer_id: str) -> dict[str, str]:
        self.runs += 1
        return lookup() | {"customer_id": customer_id}


def never_interrupt(request: ToolCallRequest) -> bool:
    """The review predicate: evaluated for every lookup, never pauses one."""
    return request.tool_call["args"].get("customer_id") is None


def langchain_middleware() -> list[AgentMiddleware[Any, Any]]:
    """LangChain's own guards: a per-run tool-call cap and human review that lets lookups pass."""
    review = InterruptOnConfig(allowed_decisions=["approve", "reject"], when=never_interrupt)
    return [
        ToolCallLimitMiddleware(run_limit=TOOL_CALLS_PER_RUN),
        HumanInTheLoopMiddleware(interrupt_on={TOOL_NAME: review}),
    ]


def agent_step(middleware: Sequence[AgentMiddleware[Any, Any]]) -> CallFn:
    """One invocation of a fresh ``create_agent`` agent with ``middleware``: one tool step."""
    counter = CountingTool()
    agent = create_agent(
        ScriptedModel(messages=scripted_steps()),
        tools=[counter.tool],
        middleware=list(middleware),
    )

    def step() -> object:
        before = counter.runs
        state = agent.invoke({"messages": [HumanMessage(REQUEST)]}, CONVERSATION)
        if counter.runs != before + 1:
            raise RuntimeError(f"the agent step did not run the tool: {state['messages']!r}")
        return state

    return step


@contextlib.contextmanager
def plain_agent() -> Iterator[CallFn]:
    """The agent with no middleware: the floor of a tool step."""
    yield agent_step([])


@contextlib.contextmanager
def langchain_agent() -> Iterator[CallFn]:
    """The agent guarded by ``ToolCallLimitMiddleware`` + ``HumanInTheLoopMiddleware``."""
    yield agent_step(langchain_middleware())


@contextlib.contextmanager
def firewall_agent() -> Iterator[CallFn]:
    """The agent guarded by ``FirewallMiddleware`` on embedded defaults."""
    with embedded_firewall() as firewall:
        yield agent_step([FirewallMiddleware(firewall, PRINCIPAL)])
