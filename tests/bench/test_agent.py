"""Agent steps: the tool runs every time, and the middleware measured is really in the loop."""

from __future__ import annotations

from typing import Any

import pytest
from firewall.adapters.langchain import FirewallMiddleware
from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage

from firewall.bench import agent
from firewall.bench.guarded import PRINCIPAL, embedded_firewall
from tests.bench.helpers import audited


def test_langchain_middleware_lets_more_steps_than_its_run_limit_through() -> None:
    """The cap is per run (invocation), so a long benchmark is never cut off by it."""
    step = agent.agent_step(agent.langchain_middleware())
    for _ in range(agent.TOOL_CALLS_PER_RUN + 2):
        step()  # raises if the tool did not run


def test_review_predicate_never_interrupts_a_lookup() -> None:
    class Request:
        def __init__(self) -> None:
            self.tool_call = {"name": "crm_lookup", "args": {"customer_id": "c-100"}, "id": "c1"}

    assert agent.never_interrupt(Request()) is False  # type: ignore[arg-type]


def test_firewall_middleware_step_is_decided_and_audited() -> None:
    with embedded_firewall() as firewall:
        step = agent.agent_step([FirewallMiddleware(firewall, PRINCIPAL)])
        step()
        step()
        events = audited(firewall.audit)
    assert events == [("decision", "crm_lookup", "allow"), ("outcome", "crm_lookup", "ok")] * 2


def test_a_step_whose_tool_did_not_run_stops_the_benchmark() -> None:
    class Refusing(AgentMiddleware[Any, Any]):
        def wrap_tool_call(self, request: ToolCallRequest, handler: object) -> ToolMessage:
            return ToolMessage(content="no", tool_call_id=request.tool_call["id"])

    step = agent.agent_step([Refusing()])
    with pytest.raises(RuntimeError, match="did not run the tool"):
        step()
