"""The call the firewall decided is the only call its tools run.

Middleware listed after the firewall runs inside it: it can change the call after the
firewall decided it (``HumanInTheLoopMiddleware``'s "edit" puts the reviewer's arguments,
or another tool, in its place), answer it without running the tool (a call limit), or run
it again (a retry). So the firewall hands the chain sealed tools: the request's tool, and
every tool in its runtime (where a middleware finds "another tool"), run only the decided
call (its name and arguments) and note that they ran. Anything else gets the refusal and
nothing runs; the firewall audits what happened.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict

CHANGED = (
    "the call was changed after the firewall decided it, by middleware listed after the"
    " firewall (e.g. HumanInTheLoopMiddleware's edit); nothing ran. List the firewall's"
    " middleware after the middleware that changes calls, so it decides the call that runs"
)


@dataclasses.dataclass
class Seal:
    """The decided call (tool and arguments) and what became of it inside the chain."""

    tool: str
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    ran: int = 0
    changed_to: dict[str, Any] | None = None  # the call a middleware put in its place

    def admits(self, tool: str, args: object, visible: frozenset[str] | None) -> bool:
        """Whether ``tool(args)`` is the decided call (injected arguments aside)."""
        if tool != self.tool or not isinstance(args, dict):
            return False
        shown = {k: v for k, v in args.items() if visible is None or k in visible}
        return shown == self.args

    def outcome_error(self) -> str | None:
        """Why the run's outcome is no success (changed, or never run), else None."""
        if self.changed_to is not None:
            return "changed after the decision by middleware inside the firewall; not run"
        if self.ran == 0:
            return "answered by middleware inside the firewall; the tool did not run"
        return None


def _model_args(tool: BaseTool) -> frozenset[str] | None:
    """The argument names the model sends (LangGraph injects state, runtime, store)."""
    try:
        schema = tool.tool_call_schema
    except Exception:  # noqa: BLE001 - a schema we cannot read: compare every argument
        return None
    if isinstance(schema, dict):
        return frozenset(schema.get("properties", {}))
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return frozenset(schema.model_json_schema().get("properties", {}))
    return None


class SealedTool(BaseTool):
    """``inner``, running only the call its seal admits."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    seal: Seal
    visible: frozenset[str] | None = None

    @classmethod
    def of(cls, inner: BaseTool, seal: Seal) -> SealedTool:
        return cls(
            name=inner.name,
            description=inner.description,
            args_schema=inner.args_schema,
            return_direct=inner.return_direct,
            inner=inner,
            seal=seal,
            visible=_model_args(inner),
        )

    def _admitted(self, given: Any) -> ToolMessage | None:
        """None if ``given`` is the decided call; else the refusal (the seal notes the change)."""
        sent = given if isinstance(given, dict) else {}
        args = sent.get("args", given) if sent.get("type") == "tool_call" else given
        if self.seal.admits(self.name, args, self.visible):
            self.seal.ran += 1
            return None
        self.seal.changed_to = {"name": self.name, "args": args}
        call_id = sent.get("id")
        return ToolMessage(
            f"Tool call denied (invalid_call): {CHANGED}",
            tool_call_id=call_id if isinstance(call_id, str) else "",
            name=self.name,
            status="error",
        )

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        refusal = self._admitted(input)
        return refusal if refusal is not None else self.inner.invoke(input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        refusal = self._admitted(input)
        if refusal is not None:
            return refusal
        return await self.inner.ainvoke(input, config, **kwargs)

    def _run(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - invoke is the way
        raise NotImplementedError("a sealed tool runs through invoke")


def sealed(request: ToolCallRequest, seal: Seal) -> ToolCallRequest:
    """``request`` with its tool, and every tool its runtime offers, sealed."""
    tool = SealedTool.of(request.tool, seal) if request.tool is not None else None
    runtime = request.runtime
    tools = getattr(runtime, "tools", None)
    if dataclasses.is_dataclass(runtime) and isinstance(tools, list):
        runtime = dataclasses.replace(runtime, tools=[SealedTool.of(t, seal) for t in tools])
    return dataclasses.replace(request, tool=tool, runtime=runtime)
