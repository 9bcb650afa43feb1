"""``FirewallMiddleware``: every tool call of a ``create_agent`` agent passes the firewall."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command
from pydantic import TypeAdapter, ValidationError

from firewall.errors import ConfigError
from firewall.gate import Executed, Firewall
from firewall.types import Deny, DenyCode, Hold, Identity, Principal, ToolCall

from .identity import answer_id, call_id_of, origin_of
from .messages import refusal_message
from .schema import args_json_schema, parsed_args
from .screen import args_problem
from .seal import CHANGED, Seal, sealed

ToolResult = ToolMessage | Command[Any]
PrincipalSource = Principal | Callable[[ToolCallRequest], Principal]
PAUSES: tuple[type[BaseException], ...] = (GraphBubbleUp,)
"""LangGraph pausing a call (an ``interrupt()`` inside): it runs again on resume."""


def reply_id(request: ToolCallRequest, call: ToolCall) -> str:
    """The ``tool_call_id`` of the answer: the model's own id, which it matches answers by."""
    return answer_id(request, call.call_id)


def _tool_name(request: ToolCallRequest) -> str:
    """The tool the model asked for; no name (or not a string) names no tool."""
    name = request.tool_call.get("name")
    return name if isinstance(name, str) else ""


_SESSION_ID = TypeAdapter(Identity)


def thread_of(config: Mapping[str, Any] | None) -> str | None:
    """The session of a LangGraph run's conversation (``configurable.thread_id``), if any.

    A thread id that is no valid session name (too long, unprintable) maps to the same
    digest each time, so the conversation keeps one session.
    """
    configurable = (config or {}).get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if thread_id is None or str(thread_id) == "":
        return None
    try:
        return _SESSION_ID.validate_python(str(thread_id))
    except ValidationError:
        text = str(thread_id).encode("utf-8", "surrogatepass")
        return "thread_" + hashlib.sha256(text).hexdigest()[:32]


def _session_id(request: ToolCallRequest) -> str:
    """The run's thread id: one firewall session per conversation, never a shared default."""
    thread_id = thread_of(getattr(request.runtime, "config", None))
    if thread_id is None:
        raise ConfigError(
            "thread_id",
            "the firewall keeps one session (history, personal-data tokens) per conversation;"
            " run the agent with config={'configurable': {'thread_id': <conversation id>}}",
        )
    return thread_id


class FirewallMiddleware(AgentMiddleware[Any, Any]):
    """Guard tool calls: run the tool only when the firewall allows (or a human approved)."""

    def __init__(self, firewall: Firewall, principal: PrincipalSource) -> None:
        super().__init__()
        self.firewall = firewall
        self._principal = principal
        self._adopted: set[str] = set()

    def _principal_for(self, request: ToolCallRequest) -> Principal:
        if isinstance(self._principal, Principal):
            return self._principal
        return self._principal(request)

    def _call(self, request: ToolCallRequest, args: dict[str, Any] | None = None) -> ToolCall:
        """The firewall's call for the model's; ``args`` if given, else the model's own."""
        name = _tool_name(request)
        if request.tool is not None and name in self.firewall.tools and name not in self._adopted:
            self.firewall.tools.adopt_schema(name, args_json_schema(request.tool))
            self._adopted.add(name)
        return ToolCall(
            tool=name,
            args=parsed_args(request.tool, dict(request.tool_call["args"]))
            if args is None
            else args,
            principal=self._principal_for(request),
            session_id=_session_id(request),
            call_id=call_id_of(request),
        )

    def _refuse_input(self, request: ToolCallRequest, problem: str) -> ToolMessage:
        """The audited refusal of a tool call whose arguments are no JSON object."""
        call = self._call(request, args={})
        return self._refusal(request, call, self.firewall.refuse_input(call, problem))

    def _not_given(self, request: ToolCallRequest, call: ToolCall) -> ToolMessage | None:
        """The audited refusal of a tool the agent was not given (nothing to hold or run)."""
        if request.tool is not None or call.tool not in self.firewall.tools:
            return None  # an undeclared tool is the gate's to refuse (as unknown)
        reason = f"{call.tool!r} is not one of this agent's tools"
        denial = self.firewall.refuse(call, DenyCode.UNKNOWN_TOOL, reason)
        return self._refusal(request, call, denial)

    def _restored(self, call: ToolCall, request: ToolCallRequest) -> ToolCallRequest:
        """The request the tool runs with: the decided arguments, the model's tokens resolved.

        A call without an id gets the id its answer carries: a tool called without one
        answers with a bare value, which the agent's tool node cannot take.
        """
        restored = self.firewall.restore_args(call)
        answer = reply_id(request, call)
        return request.override(tool_call={**request.tool_call, "args": restored, "id": answer})

    def _execute(self, call: ToolCall, request: ToolCallRequest, seal: Seal) -> ToolCallRequest:
        """The request handed to the chain inside: its tools run only the decided call.

        Built once the call is allowed: only then are its arguments restored.
        """
        restored = self._restored(call, request)
        seal.args = dict(restored.tool_call["args"])
        return sealed(restored, seal)

    def _outcome(self, seal: Seal) -> Callable[[ToolResult], str | None]:
        """What the handler's answer says happened: an error, or a tool that never ran."""

        def failed(result: ToolResult) -> str | None:
            error = seal.outcome_error()
            if error is None and isinstance(result, ToolMessage) and result.status == "error":
                return "the tool answered with an error"
            return error

        return failed

    def _answer(
        self, request: ToolCallRequest, call: ToolCall, seal: Seal, result: Executed[ToolResult]
    ) -> ToolResult:
        """The model's view of the tool's answer; a changed call's audited refusal instead."""
        if seal.changed_to is None:
            return self._model_view(call, result)
        changed = self._changed_call(call, seal.changed_to)
        denial = self.firewall.refuse(changed, DenyCode.INVALID_CALL, CHANGED)
        return self._refusal(request, call, denial)

    @staticmethod
    def _changed_call(call: ToolCall, changed_to: dict[str, Any]) -> ToolCall:
        """The call a middleware put in place of the decided one, for the record."""
        args = changed_to.get("args")
        try:
            return call.model_copy(
                update={"tool": str(changed_to.get("name")), "args": dict(args)}  # type: ignore[arg-type]
            )
        except (TypeError, ValueError):
            return call

    @staticmethod
    def _refusal(request: ToolCallRequest, call: ToolCall, decision: Deny | Hold) -> ToolMessage:
        """The refusal as the model's answer to its own tool call."""
        return refusal_message(decision, tool_call_id=reply_id(request, call), tool=call.tool)

    def _model_view(self, call: ToolCall, result: Executed[ToolResult]) -> ToolResult:
        """The tool's message with personal data protected before the model reads it."""
        message = result.value
        if not isinstance(message, ToolMessage):
            return message  # a Command updates graph state; its messages are the tool's own
        content = self.firewall.protect_output(call, message.content, result.redact)
        return message.model_copy(update={"content": content})

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolResult]
    ) -> ToolResult:
        problem = args_problem(request.tool_call.get("args"))
        if problem is not None:
            return self._refuse_input(request, problem)
        call = self._call(request)
        refusal = self._not_given(request, call)
        if refusal is not None:
            return refusal
        seal = Seal(tool=call.tool)
        result = self.firewall.run(
            call,
            lambda: handler(self._execute(call, request, seal)),
            failed=self._outcome(seal),
            pauses=PAUSES,
            origin=origin_of(request),
        )
        if isinstance(result, Executed):
            return self._answer(request, call, seal, result)
        return self._refusal(request, call, result)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        problem = args_problem(request.tool_call.get("args"))
        if problem is not None:
            return await asyncio.to_thread(self._refuse_input, request, problem)
        call = self._call(request)
        refusal = await asyncio.to_thread(self._not_given, request, call)
        if refusal is not None:
            return refusal
        seal = Seal(tool=call.tool)
        result = await self.firewall.arun(
            call,
            lambda: handler(self._execute(call, request, seal)),
            failed=self._outcome(seal),
            pauses=PAUSES,
            origin=origin_of(request),
        )
        if isinstance(result, Executed):
            return await asyncio.to_thread(self._answer, request, call, seal, result)
        return self._refusal(request, call, result)
