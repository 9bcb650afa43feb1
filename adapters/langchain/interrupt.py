"""``FirewallInterruptMiddleware``: a held call pauses the graph (LangGraph ``interrupt``).

For ``create_agent`` agents with a checkpointer. Instead of blocking a worker while a
supervisor decides, the tool node raises a LangGraph interrupt describing the hold
(arguments masked). Resume with ``Command(resume=...)`` once the hold is decided, e.g.
from the Slack click; the resume value is only a wake-up call: the decision is always
re-read from the approval store, and the call runs only if the approved digest matches.

On resume LangGraph re-runs the node from the start, and hands each ``interrupt()`` of the
task the resume value of the same position. So every run of a held call calls
``interrupt()`` exactly once, first, whatever the hold's state: the firewall's resume value
is never handed on to a later ``interrupt()`` (HITL's review, the tool's own question).
A resume that finds the hold still pending (after waiting ``settle_s`` once) answers the
call as pending: nothing runs, and the model is told so.

A re-run finds the call's decision (``Firewall.decide``), or its hold by the call's key
(tenant, session, agent and the call id, see :mod:`.identity`), instead of deciding (and
auditing, holding) a second time. A hold found under the key that is not for exactly this
call (same id, other arguments) is refused, not resumed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware.types import ToolCallRequest
from langgraph.types import interrupt

from firewall.approvals.masking import mask_args
from firewall.approvals.models import HoldRecord, HoldState
from firewall.decided import Decided
from firewall.errors import FirewallError
from firewall.gate import Executed, Firewall
from firewall.types import Allow, Deny, DenyCode, Hold, ToolCall

from .identity import origin_of
from .middleware import PAUSES, FirewallMiddleware, PrincipalSource, ToolResult
from .screen import args_problem
from .seal import Seal

SETTLE_S = 2.0


class FirewallInterruptMiddleware(FirewallMiddleware):
    """Guard tool calls; a hold becomes an ``interrupt`` that resumes with the decision.

    ``settle_s`` is how long a resumed call waits, once, for the store to show a decision
    (a resume that raced the decision) before it answers the call as still pending.
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
        refusal = self._not_given(request, call)
        if refusal is not None:
            return refusal
        origin = origin_of(request)
        decided = self._decide(call, origin)
        decision = self._resolve(call, decided, origin) if decided.hold_id else decided.decision
        if not isinstance(decision, Allow):
            return self._refusal(request, call, decision)
        seal = Seal(tool=call.tool)
        result = self.firewall.run_allowed(
            call,
            lambda: handler(self._execute(call, request, seal)),
            hold_id=decided.hold_id,  # an approval the tool could not start with is given back
            redact=_redactions(decided, decision),
            failed=self._outcome(seal),
            pauses=PAUSES,
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
        origin = origin_of(request)
        decided = await asyncio.to_thread(self._decide, call, origin)
        decision: Allow | Deny | Hold = decided.decision
        if decided.hold_id:
            decision = await self._aresolve(call, decided, origin)
        if not isinstance(decision, Allow):
            return self._refusal(request, call, decision)
        seal = Seal(tool=call.tool)
        result = await self.firewall.arun_allowed(
            call,
            lambda: handler(self._execute(call, request, seal)),
            hold_id=decided.hold_id,
            redact=_redactions(decided, decision),
            failed=self._outcome(seal),
            pauses=PAUSES,
        )
        if isinstance(result, Executed):
            return await asyncio.to_thread(self._answer, request, call, seal, result)
        return self._refusal(request, call, result)

    def _decide(self, call: ToolCall, origin: str | None) -> Decided:
        """An earlier run's decision, else the hold this call already has, else a decision."""
        earlier = self.firewall.earlier(call, origin)
        if earlier is not None:
            return earlier
        try:
            existing = self.firewall.approvals.for_call(call.key)
        except FirewallError as exc:
            reason = f"approval store unavailable ({exc})"
            return Decided("", self.firewall.refuse(call, DenyCode.STORE_ERROR, reason, "approval"))
        if existing is None:
            return self.firewall.decide(call, origin)
        if existing.digest != call.binding_digest():
            reason = (
                f"call id {call.call_id!r} already names another call in this session (held"
                f" as {existing.hold_id}); each call needs its own id"
            )
            denial = self.firewall.refuse(call, DenyCode.INVALID_CALL, reason, "approval")
            return Decided(existing.digest, denial)
        return Decided(existing.digest, _hold_of(existing), existing.hold_id)

    def _resolve(self, call: ToolCall, decided: Decided, origin: str | None) -> Allow | Deny:
        """Pause once for the hold (a re-run gets its resume value back), then decide."""
        record = self._record(call, decided)
        if isinstance(record, Deny):
            return record
        interrupt(hold_payload(record, self._personal(record.tool)))
        if not isinstance(decided.decision, Hold):
            return decided.decision  # decided in an earlier run of this call
        if record.state is HoldState.PENDING:
            record = self._settled(record.hold_id, self._settle_s)
        return self.firewall.resolve_hold(call, decided.decision, record, origin=origin)

    async def _aresolve(self, call: ToolCall, decided: Decided, origin: str | None) -> Allow | Deny:
        record = await asyncio.to_thread(self._record, call, decided)
        if isinstance(record, Deny):
            return record
        interrupt(hold_payload(record, self._personal(record.tool)))
        if not isinstance(decided.decision, Hold):
            return decided.decision
        if record.state is HoldState.PENDING:
            record = await asyncio.to_thread(self._settled, record.hold_id, self._settle_s)
        resolve = functools.partial(self.firewall.resolve_hold, origin=origin)
        return await asyncio.to_thread(resolve, call, decided.decision, record)

    def _record(self, call: ToolCall, decided: Decided) -> HoldRecord | Deny:
        """The call's hold as stored now (what the interrupt shows)."""
        assert decided.hold_id is not None  # noqa: S101 - only held calls come here
        try:
            record = self.firewall.approvals.get(decided.hold_id)
        except FirewallError as exc:
            reason = f"approval store unavailable ({exc})"
            return self.firewall.refuse(call, DenyCode.STORE_ERROR, reason, "approval")
        if record is None:
            reason = f"there is no hold {decided.hold_id!r}"
            return self.firewall.refuse(call, DenyCode.APPROVAL_MISMATCH, reason, "approval")
        return record

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


def _redactions(decided: Decided, decision: Allow) -> tuple[str, ...]:
    return decided.redact or decision.obligations.redact
