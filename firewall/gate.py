"""``Firewall``: the one gate every tool call goes through."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import structlog

from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.service import ApprovalService
from firewall.audit.events import AuditSink
from firewall.canonical import canonical_json
from firewall.errors import ApprovalError, FirewallError
from firewall.policy.engine import PolicyEngine
from firewall.recording import decision_event, outcome_event
from firewall.registry import ToolRegistry
from firewall.settings import GateSettings
from firewall.stages.base import CallContext, Stage
from firewall.stages.limits import RateLimitCheck, RateLimitRule
from firewall.stages.policy import FactsProvider, PolicyCheck
from firewall.stages.tools import KnownTool, ScopeCheck, ValidArgs
from firewall.types import (
    Allow,
    Deny,
    DenyCode,
    Hold,
    Obligations,
    ToolCall,
    ToolSpec,
    new_id,
)

T = TypeVar("T")
log = structlog.get_logger("firewall")


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Executed(Generic[T]):
    """The tool ran; ``value`` is what it returned."""

    call_id: str
    value: T
    hold_id: str | None = None


def default_stages(
    tools: ToolRegistry,
    policy: PolicyEngine,
    rate_limits: Iterable[RateLimitRule],
    limits_storage: str,
    facts: Mapping[str, FactsProvider],
    clock: Callable[[], datetime],
) -> list[Stage]:
    """The pipeline, outermost first: validate, scope, policy, limits."""
    return [
        KnownTool(tools),
        ValidArgs(tools),
        ScopeCheck(),
        PolicyCheck(policy, clock, facts),
        RateLimitCheck(rate_limits, limits_storage),
    ]


class Firewall:
    """Guard tool calls: decide, audit, hold for approval, run, audit the outcome."""

    def __init__(
        self,
        *,
        tools: Sequence[ToolSpec],
        policy: PolicyEngine,
        audit: AuditSink,
        approvals: ApprovalService,
        rate_limits: Iterable[RateLimitRule] = (),
        limits_storage: str = "memory://",
        facts: Mapping[str, FactsProvider] | None = None,
        settings: GateSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        stages: Sequence[Stage] | None = None,
    ) -> None:
        self.tools = ToolRegistry(tools)
        self.policy = policy
        self.audit = audit
        self.approvals = approvals
        self.settings = settings or GateSettings()
        self._clock = clock
        self.stages: Sequence[Stage] = stages or default_stages(
            self.tools, policy, rate_limits, limits_storage, facts or {}, clock
        )

    # -- deciding ---------------------------------------------------------------------

    def guard(self, call: ToolCall) -> Allow | Deny | Hold:
        """Run the stages, store a hold if the policy asks, and audit the decision."""
        ctx = CallContext(call=call)
        decision: Allow | Deny | Hold = self._run_stages(ctx)
        if isinstance(decision, Allow) and ctx.policy and ctx.policy.outcome == "hold":
            decision = self._place_hold(ctx)
        return self._refusal_if_unaudited(ctx, decision) or decision

    def _run_stages(self, ctx: CallContext) -> Allow | Deny:
        for stage in self.stages:
            ctx.stage = stage.name
            try:
                denial = stage.check(ctx)
            except Exception as exc:  # noqa: BLE001 - a broken stage must fail closed
                log.exception("stage_failed", stage=stage.name, call_id=ctx.call.call_id)
                return ctx.deny(
                    DenyCode.INTERNAL_ERROR, f"check {stage.name!r} failed ({type(exc).__name__})"
                )
            if denial is not None:
                return denial
        ctx.stage = "decided"
        obligations = ctx.policy.obligations if ctx.policy else Obligations()
        return Allow(call_id=ctx.call.call_id, obligations=obligations)

    def _place_hold(self, ctx: CallContext) -> Hold | Deny:
        assert ctx.policy is not None  # noqa: S101 - guarded by the caller
        obligations = ctx.policy.obligations
        now = self._clock()
        ttl = min(obligations.ttl_s or self.settings.hold_ttl_s, self.settings.hold_ttl_s)
        hold = Hold(
            call_id=ctx.call.call_id,
            hold_id=new_id("hold"),
            approvers=obligations.approvers or self.settings.default_approvers,
            quorum=obligations.quorum,
            expires_at=now + timedelta(seconds=ttl),
            reasons=ctx.policy.reasons or ("held for approval by policy",),
        )
        try:
            self.approvals.open(ctx.call, hold, money_arg=ctx.tool_spec.money_arg)
        except Exception as exc:  # noqa: BLE001 - no durable hold, no call
            return ctx.deny(
                DenyCode.STORE_ERROR, f"approval store unavailable ({type(exc).__name__})"
            )
        return hold

    def _refusal_if_unaudited(self, ctx: CallContext, decision: Allow | Deny | Hold) -> Deny | None:
        """Append the decision record; if the log cannot take it, the call does not run."""
        event = decision_event(ctx, decision, self.policy.revision)
        try:
            self.audit.append(event)
        except Exception as exc:  # noqa: BLE001 - audit before effect, or no effect
            log.error("audit_unavailable", call_id=ctx.call.call_id, error=type(exc).__name__)
            return ctx.deny(DenyCode.STORE_ERROR, "audit log unavailable; call refused")
        return None

    def _refuse(self, call: ToolCall, code: DenyCode, reason: str) -> Deny:
        ctx = CallContext(call=call, spec=self.tools.get(call.tool), stage="approval")
        denial = ctx.deny(code, reason)
        return self._refusal_if_unaudited(ctx, denial) or denial

    # -- holds ------------------------------------------------------------------------

    def resolve_hold(self, call: ToolCall, hold: Hold, record: HoldRecord) -> Allow | Deny:
        """Turn a decided hold into the call's final decision (audited)."""
        ctx = CallContext(call=call, spec=self.tools.get(call.tool), stage="approval")
        ctx.args_json = canonical_json(call.args)
        decision = self._hold_outcome(ctx, hold, record)
        return self._refusal_if_unaudited(ctx, decision) or decision

    def _hold_outcome(self, ctx: CallContext, hold: Hold, record: HoldRecord) -> Allow | Deny:
        if record.state is HoldState.APPROVED:
            try:
                self.approvals.consume(hold.hold_id, ctx.call.binding_digest())
            except ApprovalError as exc:
                code = DenyCode.APPROVAL_EXPIRED if exc.code == "expired" else (
                    DenyCode.APPROVAL_MISMATCH
                )
                return ctx.deny(code, str(exc))
            except FirewallError as exc:
                return ctx.deny(DenyCode.STORE_ERROR, f"approval store unavailable ({exc})")
            return Allow(call_id=ctx.call.call_id)
        if record.state is HoldState.DENIED:
            who = ", ".join(record.decided_by) or "an approver"
            reason = f": {record.decision_reason}" if record.decision_reason else ""
            return ctx.deny(DenyCode.APPROVAL_DENIED, f"denied by {who}{reason}")
        return ctx.deny(
            DenyCode.APPROVAL_EXPIRED,
            f"approval {hold.hold_id} expired at {record.expires_at.isoformat()} without a decision",
        )

    def _wait(self, call: ToolCall, hold: Hold) -> Allow | Deny:
        try:
            record = self.approvals.wait(hold.hold_id)
        except FirewallError as exc:
            return self._refuse(call, DenyCode.STORE_ERROR, f"approval store unavailable ({exc})")
        return self.resolve_hold(call, hold, record)

    async def _await(self, call: ToolCall, hold: Hold) -> Allow | Deny:
        try:
            record = await self.approvals.await_decision(hold.hold_id)
        except FirewallError as exc:
            reason = f"approval store unavailable ({exc})"
            return await asyncio.to_thread(self._refuse, call, DenyCode.STORE_ERROR, reason)
        return await asyncio.to_thread(self.resolve_hold, call, hold, record)

    # -- running ----------------------------------------------------------------------

    def run(self, call: ToolCall, execute: Callable[[], T]) -> Executed[T] | Deny | Hold:
        """Guard ``call``; run ``execute`` only if allowed (or approved); audit the outcome."""
        decision = self.guard(call)
        hold_id = decision.hold_id if isinstance(decision, Hold) else None
        if isinstance(decision, Hold):
            if self.settings.hold_mode == "return":
                return decision
            decision = self._wait(call, decision)
        if isinstance(decision, Deny):
            return decision
        try:
            value = execute()
        except BaseException as exc:
            self._audit_outcome(call, "error", type(exc).__name__)
            raise
        self._audit_outcome(call, "ok", None)
        return Executed(call_id=call.call_id, value=value, hold_id=hold_id)

    async def arun(
        self, call: ToolCall, execute: Callable[[], Awaitable[T]]
    ) -> Executed[T] | Deny | Hold:
        """Async twin of :meth:`run`; blocking store work runs in worker threads."""
        decision = await asyncio.to_thread(self.guard, call)
        hold_id = decision.hold_id if isinstance(decision, Hold) else None
        if isinstance(decision, Hold):
            if self.settings.hold_mode == "return":
                return decision
            decision = await self._await(call, decision)
        if isinstance(decision, Deny):
            return decision
        try:
            value = await execute()
        except BaseException as exc:
            await asyncio.to_thread(self._audit_outcome, call, "error", type(exc).__name__)
            raise
        await asyncio.to_thread(self._audit_outcome, call, "ok", None)
        return Executed(call_id=call.call_id, value=value, hold_id=hold_id)

    def _audit_outcome(self, call: ToolCall, outcome: str, error: str | None) -> None:
        try:
            self.audit.append(outcome_event(call, outcome, error))
        except Exception:  # noqa: BLE001 - the effect happened; the call stays "in doubt"
            log.exception("outcome_not_audited", call_id=call.call_id, outcome=outcome)

    def close(self) -> None:
        """Release the policy engine."""
        self.policy.close()
