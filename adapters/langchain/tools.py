"""``guard_tools``: wrap LangChain tools so every call goes through the firewall."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, ValidationError

from firewall.gate import Executed, Firewall
from firewall.types import Principal, ToolCall

from .schema import args_json_schema


def _plain(value: Any) -> Any:
    """Tool kwargs as JSON-safe data (LangChain may hand over pydantic models)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class GuardedTool(BaseTool):
    """A tool with the same name, description and schema whose calls pass the firewall."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    firewall: Firewall
    principal: Principal
    session_id: str = "default"
    handle_tool_error: bool = True

    def _parse_input(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> str | dict[str, Any]:
        """Let arguments LangChain rejects through: the firewall refuses *and audits* them."""
        try:
            return super()._parse_input(tool_input, tool_call_id)
        except ValidationError:
            if isinstance(tool_input, dict):
                return tool_input
            raise

    def _call(self, kwargs: dict[str, Any]) -> ToolCall:
        return ToolCall(
            tool=self.name,
            args=_plain(kwargs),
            principal=self.principal,
            session_id=self.session_id,
        )

    def _run(self, config: RunnableConfig, **kwargs: Any) -> Any:
        result = self.firewall.run(
            self._call(kwargs), lambda: self.inner.invoke(kwargs, config=config)
        )
        if isinstance(result, Executed):
            return result.value
        raise ToolException(result.message())

    async def _arun(self, config: RunnableConfig, **kwargs: Any) -> Any:
        async def execute() -> Any:
            return await self.inner.ainvoke(kwargs, config=config)

        result = await self.firewall.arun(self._call(kwargs), execute)
        if isinstance(result, Executed):
            return result.value
        raise ToolException(result.message())


def guard_tools(
    tools: Sequence[BaseTool],
    firewall: Firewall,
    principal: Principal,
    *,
    session_id: str = "default",
) -> list[BaseTool]:
    """Wrap ``tools``; each must be declared in the firewall (its args schema is adopted)."""
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
