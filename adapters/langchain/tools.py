"""``guard_tools``: wrap LangChain tools so every call goes through the firewall."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict

from firewall.errors import ConfigError
from firewall.gate import Executed, Firewall
from firewall.stages.shape import shape_problem
from firewall.stages.tools import MAX_ARGS_BYTES
from firewall.types import Principal, ToolCall

from .middleware import thread_of
from .schema import args_json_schema, parsed_args
from .screen import args_problem, printable, read_input


def _plain(value: Any) -> Any:
    """Tool kwargs as JSON-safe data (LangChain may hand over pydantic models)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _plain_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``_plain`` kwargs; too deep or large ones go as they are, for the firewall to refuse."""
    if shape_problem(kwargs, max_bytes=MAX_ARGS_BYTES) is not None:
        return kwargs
    plain: dict[str, Any] = _plain(kwargs)
    return plain


class GuardedTool(BaseTool):
    """A tool with the same name, description and schema whose calls pass the firewall.

    The arguments go to the firewall as sent, as one value: never through ``BaseTool``'s
    parsing (which drops names the schema lacks) or ``**kwargs`` (where an argument named
    ``self`` or ``config`` would collide). Whatever they are, the answer is the tool's
    result or the firewall's refusal, never an exception.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    firewall: Firewall
    principal: Principal
    session_id: str | None = None
    handle_tool_error: bool = True

    def _to_args_and_kwargs(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The input as sent, as the one positional argument of :meth:`_run`."""
        return (tool_input,), {}

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """As ``BaseTool.invoke``; a tool call LangChain cannot take apart goes to the gate."""
        sent = read_input(input)
        if sent.unpackable:
            return super().invoke(input, config, **kwargs)
        return self._answer(sent.args, sent.tool_call_id, config)

    async def ainvoke(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> Any:
        """Async twin of :meth:`invoke`."""
        sent = read_input(input)
        if sent.unpackable:
            return await super().ainvoke(input, config, **kwargs)
        return await self._aanswer(sent.args, sent.tool_call_id, config)

    def run(self, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        """As ``BaseTool.run``; input it cannot print (too deep, too large) goes to the gate."""
        if printable(tool_input):
            return super().run(tool_input, *args, **kwargs)
        return self._answer(tool_input, kwargs.get("tool_call_id"), kwargs.get("config"))

    async def arun(self, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        """Async twin of :meth:`run`."""
        if printable(tool_input):
            return await super().arun(tool_input, *args, **kwargs)
        return await self._aanswer(tool_input, kwargs.get("tool_call_id"), kwargs.get("config"))

    def _answer(self, args: Any, tool_call_id: str | None, config: RunnableConfig | None) -> Any:
        """The tool's result or the firewall's refusal, as ``BaseTool.run`` would answer."""
        try:
            content, status = self._run(args, ensure_config(config)), "success"
        except ToolException as exc:
            content, status = str(exc), "error"
        return self._as_output(content, status, tool_call_id)

    async def _aanswer(
        self, args: Any, tool_call_id: str | None, config: RunnableConfig | None
    ) -> Any:
        try:
            content, status = await self._arun(args, ensure_config(config)), "success"
        except ToolException as exc:
            content, status = str(exc), "error"
        return self._as_output(content, status, tool_call_id)

    def _as_output(self, content: Any, status: str, tool_call_id: str | None) -> Any:
        if tool_call_id is None:
            return content
        text = content if isinstance(content, str) else str(content)
        return ToolMessage(text, tool_call_id=tool_call_id, name=self.name, status=status)

    def _call(self, args: dict[str, Any], config: RunnableConfig) -> ToolCall:
        return ToolCall(
            tool=self.name,
            args=args,
            principal=self.principal,
            session_id=self._session(config),
        )

    def _session(self, config: RunnableConfig) -> str:
        """The given session, else the run's conversation (thread id); never a shared default."""
        session = self.session_id if self.session_id is not None else thread_of(config)
        if session is None:
            raise ConfigError(
                "session_id",
                f"tool {self.name!r} has no session: the firewall keeps one session (history,"
                " personal-data tokens) per conversation; pass guard_tools(..., session_id=...)"
                " or run the agent with config={'configurable': {'thread_id': <conversation id>}}",
            )
        return session

    def _refused(self, problem: str, config: RunnableConfig) -> ToolException:
        """The firewall's (audited) refusal of arguments that are no JSON object."""
        denial = self.firewall.refuse_input(self._call({}, config), problem)
        return ToolException(denial.message())

    def _decided(self, tool_input: dict[str, Any], config: RunnableConfig) -> ToolCall:
        """The call the firewall decides on: the arguments as the inner tool will read them.

        The inner tool parses its input with its pydantic model (coercions, defaults), so
        the firewall decides on that parse and the tool is handed exactly those arguments;
        input the model would refuse or drop goes to the firewall as sent, which refuses it.
        """
        return self._call(parsed_args(self.inner, _plain_args(tool_input)), config)

    def _tool_input(self, call: ToolCall) -> dict[str, Any]:
        """The inner tool's arguments: the decided ones, the model's tokens resolved."""
        return self.firewall.restore_args(call)

    def _model_view(self, call: ToolCall, result: Executed[Any]) -> Any:
        return self.firewall.protect_output(call, result.value, result.redact)

    def _run(self, tool_input: Any, config: RunnableConfig) -> Any:
        problem = args_problem(tool_input)
        if problem is not None:
            raise self._refused(problem, config)
        call = self._decided(tool_input, config)
        result = self.firewall.run(
            call, lambda: self.inner.invoke(self._tool_input(call), config=config)
        )
        if isinstance(result, Executed):
            return self._model_view(call, result)
        raise ToolException(result.message())

    async def _arun(self, tool_input: Any, config: RunnableConfig) -> Any:
        problem = args_problem(tool_input)
        if problem is not None:
            raise await asyncio.to_thread(self._refused, problem, config)
        call = self._decided(tool_input, config)

        async def execute() -> Any:
            return await self.inner.ainvoke(self._tool_input(call), config=config)

        result = await self.firewall.arun(call, execute)
        if isinstance(result, Executed):
            return self._model_view(call, result)
        raise ToolException(result.message())


def guard_tools(
    tools: Sequence[BaseTool],
    firewall: Firewall,
    principal: Principal,
    *,
    session_id: str | None = None,
) -> list[BaseTool]:
    """Wrap ``tools``; each must be declared in the firewall (its args schema is adopted).

    Each call's session is ``session_id`` if given (every call of these tools then shares
    it), else the conversation the agent runs in (``configurable.thread_id`` of the run's
    config); a call with neither raises :class:`ConfigError` rather than share a session.
    """
    guarded: list[BaseTool] = []
    for tool in tools:
        firewall.tools.adopt_schema(tool.name, args_json_schema(tool))
        guarded.append(
            GuardedTool(
                name=tool.name,
                description=tool.description,
                args_schema=tool.args_schema,
                inner=tool,
                firewall=firewall,
                principal=principal,
                session_id=session_id,
            )
        )
    return guarded
