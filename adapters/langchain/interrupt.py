"""``FirewallInterruptMiddleware``: a held call pauses the graph (LangGraph ``interrupt``).

For ``create_agent`` agents with a checkpointer. Instead of blocking a worker while a
supervisor decides, the tool node raises a LangGraph interrupt describing the hold
(arguments masked). Resume with ``Command(resume=...)`` once the hold is decided, e.g.
from the Slack click; the resume value is only a wake-up call: the decision is always
re-read from the approval store, and the call runs only if the approved digest matches.

On resume LangGraph re-runs the node from the start, so the hold is looked up by the
call's key (tenant, session, agent and the model's call id) instead of being placed (and
audited) a second time. The model chooses call ids, so the key scopes them: another
tenant's or conversation's ``call_1`` is another call, and a hold found under the key
that is not for exactly this call (same id, other arguments) is refused, not resumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from langchain.agents.middleware.types import ToolCallRequest
from langgraph.types import interrupt

from firewall.approvals.masking import mask_args
from firewall.approvals.models import HoldRecord, HoldState
from firewall.errors import FirewallError
from firewall.gate import Firewall
from firewall.recording import decision_event
from firewall.stages.base import CallContext
from firewall.types import Allow, Deny, DenyCode, Hold, ToolCall

from .middleware import FirewallMiddleware, PrincipalSource, ToolResult
from .screen import args_problem

SETTLE_S = 2.0


class FirewallInterruptMiddleware(FirewallMiddleware):
    """Guard tool calls; a hold becomes an ``interrupt`` that resumes with the decision.

    ``settle_s`` is how long a resumed call waits for the store to show a decision
    before it pauses again (a resume that raced the decision costs one more pause).
    """

    def __init__(
        self, firewall: Firewall, principal: PrincipalSource, *, settle_s: float = SETTLE_S
    ) -> None:
        super().__init__(firewall, principal)
        self._settle_s = settle_s

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolResult]
    ) -> ToolResult:
        problem = args_problem(request.tool_call.get("args"))
        if problem is not None:
            return self._refuse_input(request, problem)
        call = self._call(request)
        decision = self._decide(call)
        hold_id = decision.hold_id if isinstance(decision, Hold) else None
        if isinstance(decision, Hold):
            decision = self._resolve(call, decision)
        if isinstance(decision, Deny):
            return self._refusal(request, call, decision)
        result = self.firewall.run_allowed(
            call,
            lambda: handler(self._restored(call, request)),
            hold_id=hold_id,  # an approval the tool could not start with is given back
            redact=_redactions(decision),
        )
        if isinstance(result, Deny):
            return self._refusal(request, call, result)
        return self._model_view(call, result)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        problem = args_problem(request.tool_call.get("args"))
        if problem is not None:
            return await asyncio.to_thread(self._refuse_input, request, problem)
        call = self._call(request)
        decision = await asyncio.to_thread(self._decide, call)
        hold_id = decision.hold_id if isinstance(decision, Hold) else None
        if isinstance(decision, Hold):
            decision = await self._aresolve(call, decision)
        if isinstance(decision, Deny):
            return self._refusal(request, call, decision)
        result = await self.firewall.arun_allowed(
            call,
            lambda: handler(self._restored(call, request)),
            hold_id=hold_id,
            redact=_redactions(decision),
        )
        if isinstance(result, Deny):
            return self._refusal(request, call, result)
        return self._model_view(call, result)

    def _decide(self, call: ToolCall) -> Allow | Deny | Hold:
        """The hold this call already has (a resumed run), else the firewall's decision."""
        try:
            existing = self.firewall.approvals.for_call(call.key)
        except FirewallError as exc:
            return self._refuse(call, DenyCode.STORE_ERROR, f"approval store unavailable ({exc})")
        if existing is None:
            return self.firewall.guard(call)
        if existing.digest != call.binding_digest():
            reason = (
                f"call id {call.call_id!r} already names another call in this session (held"
                f" as {existing.hold_id}); each call needs its own id"
            )
            return self._refuse(call, DenyCode.INVALID_CALL, reason)
        return _hold_of(existing)

    def _refuse(self, call: ToolCall, code: DenyCode, reason: str) -> Deny:
        ctx = CallContext(call=call, spec=self.firewall.tools.get(call.tool), stage="approval")
        denial = ctx.deny(code, reason)
        with suppress(FirewallError):  # refused either way, even if the log cannot take it
            self.firewall.audit.append(decision_event(ctx, denial, self.firewall.policy.revision))
        return denial

    def _resolve(self, call: ToolCall, hold: Hold) -> Allow | Deny:
        record = self._settled(hold.hold_id, 0.0)
        while record.state is HoldState.PENDING:
            interrupt(hold_payload(record, self._personal(record.tool)))
            record = self._settled(hold.hold_id, self._settle_s)
        return self.firewall.resolve_hold(call, hold, record)

    async def _aresolve(self, call: ToolCall, hold: Hold) -> Allow | Deny:
        record = await asyncio.to_thread(self._settled, hold.hold_id, 0.0)
        while record.state is HoldState.PENDING:
            interrupt(hold_payload(record, self._personal(record.tool)))
            record = await asyncio.to_thread(self._settled, hold.hold_id, self._settle_s)
        return await asyncio.to_thread(self.firewall.resolve_hold, call, hold, record)

    def _settled(self, hold_id: str, timeout_s: float) -> HoldRecord:
        return self.firewall.approvals.wait(hold_id, timeout_s=timeout_s)

    def _personal(self, tool: str) -> tuple[str, ...]:
        spec = self.firewall.tools.get(tool)
        return spec.personal_args if spec is not None else ()


def hold_payload(record: HoldRecord, personal: tuple[str, ...] = ()) -> dict[str, Any]:
    """What the interrupt shows the client: the hold, its arguments masked."""
    return {
        "type": "firewall_hold",
        "hold_id": record.hold_id,
        "call_id": record.call_id,
        "tool": record.tool,
        "args": mask_args(record.args, personal),
        "reasons": list(record.reasons),
        "approvers": record.approvers,
        "quorum": record.quorum,
        "approvals": list(record.approvals),
        "expires_at": record.expires_at.isoformat(),
    }


def _hold_of(record: HoldRecord) -> Hold:
    return Hold(
        call_id=record.call_id,
        hold_id=record.hold_id,
        approvers=record.approvers,
        quorum=record.quorum,
        expires_at=record.expires_at,
        reasons=record.reasons,
    )


def _redactions(decision: Allow) -> tuple[str, ...]:
    return decision.obligations.redact
