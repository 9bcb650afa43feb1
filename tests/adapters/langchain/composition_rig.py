"""Agents that combine the firewall with LangChain's own middleware, and what they leave.

``create_agent`` over langchain-core's fake chat model (its turns scripted), the firewall as
``FirewallMiddleware`` or ``FirewallInterruptMiddleware`` beside ``HumanInTheLoopMiddleware``,
``ToolRetryMiddleware``, ``ToolCallLimitMiddleware``, a LangGraph checkpointer, and tools
that record every run (and may call ``interrupt()`` themselves). The audit log is read back
with plain SQL, as an auditor would.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, ToolException, tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import interrupt

from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.keyfiles import ensure_dev_key
from firewall.audit.store import SqlAuditLog
from firewall.containment.settings import BudgetRule
from firewall.gate import Firewall
from firewall.policy.embedded import RegoEngine
from firewall.settings import GateSettings
from firewall.types import Principal, Risk, ToolSpec

POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "deny", "reasons": ["no rule for this tool"]}

decision := {"outcome": "allow", "reasons": []} if input.tool.name in {"lookup", "charge", "ask"}

decision := {"outcome": "deny", "reasons": ["payments are closed today"]} if {
    input.tool.name == "pay"
}

decision := {
    "outcome": "hold",
    "reasons": ["refunds need a supervisor"],
    "obligations": {"approvers": "supervisors", "ttl_s": 600},
} if input.tool.name in {"refund", "confirm_refund"}
"""


def _schema(**types: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in types.items()},
        "additionalProperties": False,
    }


TOOLS = (
    ToolSpec(name="lookup", scope="crm:read", args_schema=_schema(customer_id="string")),
    ToolSpec(
        name="refund",
        scope="refunds:write",
        risk=Risk.HIGH,
        money_arg="amount",
        args_schema=_schema(order_id="string", amount="number"),
    ),
    ToolSpec(
        name="charge",
        scope="refunds:write",
        money_arg="amount",
        args_schema=_schema(order_id="string", amount="number"),
    ),
    ToolSpec(name="ask", scope="crm:read", args_schema=_schema(question="string")),
    ToolSpec(
        name="confirm_refund",
        scope="refunds:write",
        risk=Risk.HIGH,
        args_schema=_schema(order_id="string"),
    ),
    ToolSpec(name="pay", scope="payments:write", args_schema=_schema(amount="number")),
)
BUDGETS = (BudgetRule(tool="charge", amount=Decimal(1000), window="1 hour"),)
AGENT = Principal(
    agent_id="bot-1",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write", "payments:write"}),
    requested_by="bob",
)


def thread(name: str = "thread-1") -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


class ScriptedModel(GenericFakeChatModel):
    """The fake chat model, standing in for a tool-calling model: its turns as scripted."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self


def call(name: str, call_id: str | None = "call_1", **args: Any) -> dict[str, Any]:
    """A tool call as the model sends it."""
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def turn(*calls: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=list(calls))


@dataclass
class Tools:
    """The agent's tools; each run appends ``(tool, args)`` to ``ran``."""

    ran: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)  # what ``ask``'s own interrupt() got
    failures: int = 0  # ``charge`` raises this many times before it succeeds

    def all(self) -> list[BaseTool]:
        return [
            self.lookup(),
            self.refund(),
            self.charge(),
            self.ask(),
            self.pay(),
            self.confirm_refund(),
        ]

    def named(self, *names: str) -> list[BaseTool]:
        return [t for t in self.all() if t.name in names]

    def lookup(self) -> BaseTool:
        @tool
        def lookup(customer_id: str) -> str:
            """Look up a customer."""
            self.ran.append(("lookup", {"customer_id": customer_id}))
            return f"customer {customer_id}"

        return lookup

    def refund(self) -> BaseTool:
        @tool
        def refund(order_id: str, amount: float) -> str:
            """Refund an order."""
            self.ran.append(("refund", {"order_id": order_id, "amount": amount}))
            return f"refunded {amount} on {order_id}"

        return refund

    def charge(self) -> BaseTool:
        @tool
        def charge(order_id: str, amount: float) -> str:
            """Charge an order (fails ``failures`` times first)."""
            self.ran.append(("charge", {"order_id": order_id, "amount": amount}))
            if self.failures > 0:
                self.failures -= 1
                raise ConnectionError("payment gateway timed out")
            return f"charged {amount} on {order_id}"

        return charge

    def ask(self) -> BaseTool:
        @tool
        def ask(question: str) -> str:
            """Ask the user a question (the tool pauses the graph itself)."""
            answer = interrupt({"tool_question": question})
            self.answers.append(answer)
            self.ran.append(("ask", {"question": question}))
            return f"user said {answer}"

        return ask

    def confirm_refund(self) -> BaseTool:
        @tool
        def confirm_refund(order_id: str) -> str:
            """Refund an order once the customer confirms (the tool asks them itself)."""
            answer = interrupt({"tool_question": f"refund {order_id}?"})
            self.answers.append(answer)
            self.ran.append(("confirm_refund", {"order_id": order_id}))
            return f"customer said {answer}"

        return confirm_refund

    def pay(self) -> BaseTool:
        @tool
        def pay(amount: float) -> str:
            """Pay out money."""
            self.ran.append(("pay", {"amount": amount}))
            return f"paid {amount}"

        return pay


def failing_tool(ran: list[tuple[str, dict[str, Any]]]) -> BaseTool:
    """``lookup`` answering with an error ToolMessage (LangChain's ``handle_tool_error``)."""

    @tool
    def lookup(customer_id: str) -> str:
        """Look up a customer."""
        ran.append(("lookup", {"customer_id": customer_id}))
        raise ToolException("crm is down")

    lookup.handle_tool_error = True
    return lookup


@dataclass
class Rig:
    firewall: Firewall
    db: Path

    def audited(self, event: str = "decision") -> list[dict[str, Any]]:
        """The entries of the log's ``event`` records, in chain order, read with plain SQL."""
        self.firewall.audit.flush()  # type: ignore[attr-defined]  # outcomes written later
        with sqlite3.connect(self.db) as connection:
            rows = connection.execute(
                "SELECT body FROM audit_records WHERE event = ? ORDER BY seq", (event,)
            ).fetchall()
        return [json.loads(body)["entry"] for (body,) in rows]

    def holds(self) -> list[dict[str, Any]]:
        return self.audited("hold_created")

    def decisions(self, tool: str) -> list[dict[str, Any]]:
        return [e for e in self.audited() if e["tool"] == tool]

    def outcomes(self) -> list[tuple[str, str]]:
        return [(e["tool"], e["outcome"]) for e in self.audited("outcome")]

    def pending_hold(self) -> str:
        [entry] = [e for e in self.audited() if e["outcome"] == "hold"][-1:]
        hold_id: str = entry["details"]["hold_id"]
        return hold_id

    def assert_ran_only_decided(self, ran: list[tuple[str, dict[str, Any]]]) -> None:
        """Every run of a tool is one the log shows allowed (or approved), with those args."""
        decided = [
            (e["tool"], e["args"]) for e in self.audited() if e["outcome"] in ("allow", "hold")
        ]
        for tool_name, args in ran:
            assert (tool_name, args) in decided, f"{tool_name}{args} ran without a decision"


def make_rig(tmp_path: Path, settings: GateSettings | None = None) -> Rig:
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir(exist_ok=True)
    (policy_dir / "decision.rego").write_text(POLICY, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'firewall.db'}"
    ensure_dev_key(tmp_path)
    audit = SqlAuditLog(url)
    approvals = ApprovalService(SqlApprovalStore(url), audit, {"supervisors": ["alice", "carol"]})
    firewall = Firewall(
        tools=TOOLS,
        policy=RegoEngine(policy_dir),
        audit=audit,
        approvals=approvals,
        budgets=BUDGETS,
        settings=settings,
    )
    return Rig(firewall=firewall, db=tmp_path / "firewall.db")


@contextmanager
def checkpointer(kind: str, tmp_path: Path) -> Iterator[BaseCheckpointSaver[Any]]:
    """LangGraph's in-memory checkpointer, or its SQLite one on a file."""
    if kind == "memory":
        yield InMemorySaver()
        return
    connection = sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False)
    try:
        yield SqliteSaver(connection)
    finally:
        connection.close()


def agent(
    turns: list[AIMessage],
    tools: list[BaseTool],
    middleware: Sequence[AgentMiddleware[Any, Any]],
    saver: BaseCheckpointSaver[Any] | None = None,
) -> Any:
    model = ScriptedModel(messages=iter([*turns, AIMessage(content="done")]))
    return create_agent(model, tools=tools, middleware=list(middleware), checkpointer=saver)


def drive(graph: Any, payload: Any, config: dict[str, Any], use_async: bool) -> dict[str, Any]:
    """One ``invoke`` (or ``ainvoke``) of the agent."""
    if use_async:
        result: dict[str, Any] = asyncio.run(graph.ainvoke(payload, config))
    else:
        result = graph.invoke(payload, config)
    return result


def start(graph: Any, config: dict[str, Any], use_async: bool = False) -> dict[str, Any]:
    return drive(graph, {"messages": [HumanMessage("help")]}, config, use_async)


def interrupts(result: dict[str, Any]) -> list[Any]:
    return [i.value for i in result.get("__interrupt__", [])]


def tool_messages(result: dict[str, Any]) -> list[ToolMessage]:
    messages: list[BaseMessage] = result["messages"]
    return [m for m in messages if isinstance(m, ToolMessage)]
