"""``guard_tools``: wrap LangChain tools so every call goes through the firewall."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, ValidationError

from firewall.errors import ConfigError
from firewall.gate import Executed, Firewall
from firewall.stages.shape import shape_problem
from firewall.stages.tools import MAX_ARGS_BYTES
from firewall.types import Principal, ToolCall

from .middleware import thread_of
from .schema import args_json_schema
from .screen import unprintable_args


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
    """A tool with the same name, description and schema whose calls pass the firewall."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    firewall: Firewall
    principal: Principal
    session_id: str | None = None
    handle_tool_error: bool = True

    def _parse_input(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> str | dict[str, Any]:
        """Let arguments LangChain rejects through: the firewall refuses *and audits* them."""
        try:
            return super()._parse_input(tool_input, tool_call_id)
        except ValidationError:
            if isinstance(tool_input, dict):  # string keys, or **kwargs would raise TypeError
                return {str(key): value for key, value in tool_input.items()}
            raise

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """As ``BaseTool.invoke``, but arguments LangChain cannot print go straight to the gate."""
        unprintable = unprintable_args(input)
        if unprintable is None:
            return super().invoke(input, config, **kwargs)
        args, tool_call_id = unprintable
        try:
            content, status = self._run(ensure_config(config), **args), "success"
        except ToolException as exc:
            content, status = str(exc), "error"
        return self._as_output(content, status, tool_call_id)

    async def ainvoke(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> Any:
        """Async twin of :meth:`invoke`."""
        unprintable = unprintable_args(input)
        if unprintable is None:
            return await super().ainvoke(input, config, **kwargs)
        args, tool_call_id = unprintable
        try:
            content, status = await self._arun(ensure_config(config), **args), "success"
        except ToolException as exc:
            content, status = str(exc), "error"
        return self._as_output(content, status, tool_call_id)

    def _as_output(self, content: Any, status: str, tool_call_id: str | None) -> Any:
        if tool_call_id is None:
            return content
        text = content if isinstance(content, str) else str(content)
        return ToolMessage(text, tool_call_id=tool_call_id, name=self.name, status=status)

    def _call(self, kwargs: dict[str, Any], config: RunnableConfig) -> ToolCall:
        return ToolCall(
            tool=self.name,
            args=_plain_args(kwargs),
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

    def _tool_input(self, call: ToolCall, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The inner tool's arguments: the model's tokens resolved to the real values."""
        restored = self.firewall.restore_args(call)
        return kwargs if restored == call.args else restored

    def _model_view(self, call: ToolCall, result: Executed[Any]) -> Any:
        return self.firewall.protect_output(call, result.value, result.redact)

    def _run(self, config: RunnableConfig, **kwargs: Any) -> Any:
        call = self._call(kwargs, config)
        result = self.firewall.run(
            call, lambda: self.inner.invoke(self._tool_input(call, kwargs), config=config)
        )
        if isinstance(result, Executed):
            return self._model_view(call, result)
        raise ToolException(result.message())

    async def _arun(self, config: RunnableConfig, **kwargs: Any) -> Any:
        call = self._call(kwargs, config)

        async def execute() -> Any:
            return await self.inner.ainvoke(self._tool_input(call, kwargs), config=config)

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
