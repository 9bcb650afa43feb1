"""``Firewall``: the one gate every tool call goes through."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import structlog

from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.service import ApprovalService
from firewall.approvals.unstarted import UnstartedRuns
from firewall.audit.events import AuditSink
from firewall.canonical import canonical_json
from firewall.containment.budgets import UNHELD
from firewall.containment.control import Containment
from firewall.containment.settings import BudgetRule
from firewall.credentials.context import handed_over
from firewall.credentials.redaction import scrub_exception
from firewall.credentials.vault import CallCredential, CredentialVault
from firewall.decided import Decided, DecisionMemo, remembered
from firewall.errors import ApprovalError, ConfigError, DuplicateCallError, FirewallError
from firewall.observe import (
    APPROVAL_WAIT,
    AUDIT_APPEND,
    CALL,
    DECIDE,
    STAGE,
    NullObserver,
    Observer,
    Span,
)
from firewall.pii.privacy import Privacy
from firewall.policy.engine import PolicyEngine
from firewall.recording import decision_event, outcome_event, settled_hold_details
from firewall.registry import ToolRegistry
from firewall.session import MemorySessionStore, SessionEvent, SessionStore
from firewall.settings import GateSettings
from firewall.stages.base import CallContext, Stage
from firewall.stages.budgets import BudgetCheck, owner_of, reservation_of
from firewall.stages.freeze import FreezeCheck
from firewall.stages.limits import RateLimitRule
from firewall.stages.naming import quoted
from firewall.stages.pipeline import default_stages
from firewall.stages.policy import FactsProvider
from firewall.stages.shape import shape_problem
from firewall.stages.tools import MAX_ARGS_BYTES, ValidArgs
from firewall.types import (
    Allow,
    Deny,
    DenyCode,
    Hold,
    Obligations,
    ToolCall,
    ToolSpec,
)

T = TypeVar("T")
UNDECLARED_TOOL = "(undeclared)"
log = structlog.get_logger("firewall")

_REFUSED_USE = {"expired": DenyCode.APPROVAL_EXPIRED, "already_used": DenyCode.APPROVAL_USED}
"""Deny codes of the approval service's refusals to use an approval (else: mismatch)."""
_NEVER_RAN = (DenyCode.APPROVAL_DENIED, DenyCode.APPROVAL_EXPIRED)


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Executed(Generic[T]):
    """The tool ran; ``value`` is what it returned."""

    call_id: str
    value: T
    hold_id: str | None = None
    redact: tuple[str, ...] = ()  # output fields the policy wants redacted


def _named(exc: BaseException) -> str:
    """A store error's own message (ours are written for readers), else just its type."""
    return str(exc) if isinstance(exc, FirewallError) else type(exc).__name__


def _describe(span: Span, result: Allow | Deny | Hold | Executed[Any]) -> None:
    """What a span may say of a decision or result: its kind, deny code and hold id."""
    span.set("outcome", "executed" if isinstance(result, Executed) else result.kind)
    if isinstance(result, Deny):
        span.set("code", result.code.value)
    if isinstance(result, Hold):
        span.set("hold_id", result.hold_id)


def _canonical_or_empty(args: Mapping[str, Any]) -> bytes:
    try:
        return canonical_json(args)
    except Exception:  # noqa: BLE001 - arguments with no canonical form are not recorded
        return b""


def _digest_of(call: ToolCall) -> str | None:
    """The call's binding digest; None if its arguments have none (no canonical JSON).

    Arguments the checks refuse for their shape (too deep, too large, a list shared 2**40
    times) are not serialised at all: that alone could take the process down.
    """
    if shape_problem(call.args, max_bytes=MAX_ARGS_BYTES) is not None:
        return None
    try:
        return call.binding_digest()
    except Exception:  # noqa: BLE001 - such arguments are refused by the checks
        return None


def _hold_id_and_redactions(decision: Allow | Deny | Hold) -> tuple[str | None, tuple[str, ...]]:
    if isinstance(decision, Hold):
        return decision.hold_id, decision.redact
    if isinstance(decision, Allow):
        return None, decision.obligations.redact
    return None, ()


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
        budgets: Iterable[BudgetRule] = (),
        containment: Containment | None = None,
        vault: CredentialVault | None = None,
        facts: Mapping[str, FactsProvider] | None = None,
        settings: GateSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        stages: Sequence[Stage] | None = None,
        sessions: SessionStore | None = None,
        privacy: Privacy | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.tools = ToolRegistry(tools)
        self.observer: Observer = observer or NullObserver()
        self.privacy = privacy or Privacy(clock=clock)
        self.sessions: SessionStore = sessions or MemorySessionStore()
        self.policy = policy
        self.audit = audit
        self.approvals = approvals
        self.settings = settings or GateSettings()
        self._clock = clock
        self.containment = containment or Containment(
            storage_url=limits_storage, rate_limits=rate_limits, budgets=budgets, audit=audit
        )
        if containment is not None and (rate_limits or budgets or limits_storage != "memory://"):
            raise ConfigError("firewall", "give rate limits, budgets and storage to Containment")
        self.vault = vault or CredentialVault()
        self.vault.check_tools(self.tools.values())
        self._last_look = FreezeCheck(
            self.containment.freezes, self.tools, self.containment.outage, last_look=True
        )
        self._unstarted = UnstartedRuns()
        self._decided = DecisionMemo()
        self.stages: Sequence[Stage] = stages or default_stages(
            self.tools,
            policy=policy,
            containment=self.containment,
            facts=facts or {},
            clock=clock,
            sessions=self.sessions,
            privacy=self.privacy,
        )
        self._stage_names = [stage.name for stage in self.stages]

    # -- deciding ---------------------------------------------------------------------

    def guard(self, call: ToolCall) -> Allow | Deny | Hold:
        """Run the stages, store a hold if the policy asks, and audit the decision."""
        with self.observer.span(DECIDE, tool=self._tool_label(call)) as span:
            decision = self._guard(call)
            _describe(span, decision)
            span.set("policy_revision", self.policy.revision)
            return decision

    def _tool_label(self, call: ToolCall) -> str:
        """The tool as spans and metrics name it: declared names only (the model picks others)."""
        return call.tool if call.tool in self.tools else UNDECLARED_TOOL

    def _guard(self, call: ToolCall) -> Allow | Deny | Hold:
        ctx = CallContext(call=call)
        decision: Allow | Deny | Hold = self._run_stages(ctx)
        if isinstance(decision, Allow) and ctx.policy and ctx.policy.outcome == "hold":
            decision = self._place_hold(ctx)
        if not self._remembered(call, decision.kind) and isinstance(decision, Allow):
            # A session that cannot record this call would not see its subject later.
            ctx.stage = "session"
            decision = ctx.deny(DenyCode.STORE_ERROR, "session store unavailable; call refused")
        placed = isinstance(decision, Hold)
        decision = self._refusal_if_unaudited(ctx, decision) or decision
        if isinstance(decision, Deny):
            # A placed hold may still be approved and run: its resolution releases, not this.
            release = not placed and self._passed_budget(ctx.stage)
            self._contain(ctx, decision, owner=owner_of(ctx) if release else None)
        return decision

    def decide(self, call: ToolCall, origin: str | None = None) -> Decided:
        """The call's decision: the one an earlier run of this very call got, else :meth:`guard`.

        A call is named by its key (tenant, session, agent, call id); a runtime that runs it
        again (a resumed graph, a retry) finds its decision instead of deciding (and
        auditing, counting, reserving, holding) a second time. ``origin`` names where the
        call comes from (an adapter's: the model message that asked for it), so that an id
        reused elsewhere is never taken for a re-run.
        """
        earlier = self.earlier(call, origin)
        if earlier is not None:
            return earlier
        decision = self.guard(call)
        hold_id, redact = _hold_id_and_redactions(decision)
        if not remembered(decision):  # a refusal is decided again: no digest to keep
            return Decided("", decision, hold_id, redact, origin=origin)
        decided = Decided(_digest_of(call) or "", decision, hold_id, redact, origin=origin)
        if decided.digest:
            self._decided.put(call.key, decided)
        return decided

    def earlier(self, call: ToolCall, origin: str | None = None) -> Decided | None:
        """What an earlier run of this call was decided (in this process), or None.

        The same key naming other arguments is another call: refused (audited). A held
        call whose tool already started has used its approval: a further run is refused.
        """
        found = self._decided.get(call.key)
        if found is None:
            return None
        if found.digest != _digest_of(call) or found.origin != origin:
            reason = (
                f"call id {call.call_id!r} already names another call in this session;"
                " each call needs its own id"
            )
            return Decided(found.digest, self._refuse(call, DenyCode.INVALID_CALL, reason))
        if found.started:
            reason = f"the approval of hold {found.hold_id} was already used; it authorises one run"
            return Decided(found.digest, self._refuse(call, DenyCode.APPROVAL_USED, reason))
        return found

    def _remembered(self, call: ToolCall, outcome: str) -> bool:
        """:meth:`_remember`; False (logged) if the session store could not take it."""
        try:
            self._remember(call, outcome)
        except Exception:  # a shared store keeps what it could not write, for later
            log.exception("session_not_recorded", call_id=call.call_id, outcome=outcome)
            return False
        return True

    def _remember(self, call: ToolCall, outcome: str) -> None:
        """Add the call to its session's history, which later policy decisions see.

        Only what the checks accepted: an unknown tool's name, or a refused call's
        arguments, may not even be JSON, and would poison every later policy input.
        """
        spec = self.tools.get(call.tool)
        if spec is None:
            return
        labels = spec.output_labels if outcome == "ok" else ()
        subject = spec.subject_of(call.args) if outcome != "deny" else None
        event = SessionEvent(tool=call.tool, outcome=outcome, labels=labels, subject=subject)
        self.sessions.record(call.principal.tenant, call.session_id, event)

    def _run_stages(self, ctx: CallContext) -> Allow | Deny:
        for stage in self.stages:
            ctx.stage = stage.name
            try:
                with self.observer.span(STAGE, stage=stage.name):
                    denial = stage.check(ctx)
            except Exception as exc:  # a broken stage must fail closed
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
            hold_id=ctx.hold_id,
            approvers=obligations.approvers or self.settings.default_approvers,
            quorum=obligations.quorum,
            expires_at=now + timedelta(seconds=ttl),
            reasons=ctx.policy.reasons or ("held for approval by policy",),
            redact=obligations.redact,
        )
        try:
            self.approvals.open(ctx.call, hold, money_arg=ctx.tool_spec.money_arg)
        except DuplicateCallError as exc:  # the id is taken: this is not the call it names
            ctx.stage = "approval"
            return ctx.deny(DenyCode.INVALID_CALL, str(exc))
        except Exception as exc:  # noqa: BLE001 - no durable hold, no call
            return ctx.deny(DenyCode.STORE_ERROR, f"approval store unavailable ({_named(exc)})")
        return hold

    def _refusal_if_unaudited(self, ctx: CallContext, decision: Allow | Deny | Hold) -> Deny | None:
        """Append the decision record; if the log cannot take it, the call does not run."""
        try:
            with self.observer.span(AUDIT_APPEND, event="decision"):
                self.audit.append(decision_event(ctx, decision, self.policy.revision))
        except Exception as exc:  # noqa: BLE001 - audit before effect, or no effect
            log.error(  # noqa: TRY400 - the error type is all the log needs
                "audit_unavailable", call_id=ctx.call.call_id, error=type(exc).__name__
            )
            return ctx.deny(
                DenyCode.STORE_ERROR, f"audit log unavailable ({_named(exc)}); call refused"
            )
        return None

    def refuse_input(self, call: ToolCall, problem: str) -> Deny:
        """Refuse a call whose arguments an adapter could not take as a JSON object.

        ``call`` carries what could be read (tool, principal, session, id) and no
        arguments; ``problem`` says what was wrong with them. Audited, and counted against
        the agent like any other malformed call.
        """
        ctx = CallContext(call=call, spec=self.tools.get(call.tool), stage=ValidArgs.name)
        denial = ctx.deny(
            DenyCode.INVALID_ARGS, f"invalid arguments for {quoted(call.tool)}: {problem}"
        )
        denial = self._refusal_if_unaudited(ctx, denial) or denial
        self._contain(ctx, denial, owner=None)
        return denial

    def refuse(self, call: ToolCall, code: DenyCode, reason: str, stage: str = "adapter") -> Deny:
        """Refuse ``call`` for a reason an adapter found (audited with its arguments; the
        call does not run)."""
        ctx = CallContext(call=call, spec=self.tools.get(call.tool), stage=stage)
        ctx.args_json = _canonical_or_empty(call.args)
        denial = ctx.deny(code, reason)
        return self._refusal_if_unaudited(ctx, denial) or denial

    def _refuse(self, call: ToolCall, code: DenyCode, reason: str, stage: str = "approval") -> Deny:
        ctx = CallContext(call=call, spec=self.tools.get(call.tool), stage=stage)
        denial = ctx.deny(code, reason)
        return self._refusal_if_unaudited(ctx, denial) or denial

    # -- containment ------------------------------------------------------------------

    def _passed_budget(self, stage: str) -> bool:
        """Whether a call refused at ``stage`` may hold a budget reservation."""
        names = self._stage_names
        if BudgetCheck.name not in names or stage not in names:
            return True
        return names.index(stage) > names.index(BudgetCheck.name)

    def _contain(self, ctx: CallContext, denial: Deny, *, owner: str | None) -> None:
        """After a final denial: give back the budget ``owner`` holds for the call (if any
        owner is named), count the denial for the breaker."""
        if owner is not None:
            self.containment.release(reservation_of(ctx.call), owner)
        self.containment.after_denial(ctx, denial)

    # -- holds ------------------------------------------------------------------------

    def resolve_hold(
        self, call: ToolCall, hold: Hold, record: HoldRecord, *, origin: str | None = None
    ) -> Allow | Deny:
        """Turn a decided hold into the call's final decision (audited).

        The hold is judged as the approval store has it now (``record`` only names what
        the caller saw). Approved: its approval is used here, once; if the tool then
        cannot start (see :meth:`run_allowed`) it is given back. Executed: "already used".
        Pending: nothing is decided. The budget is given back only when the store shows
        the hold denied or expired, for the very call it held, and only by its hold.
        """
        ctx = CallContext(call=call, spec=self.tools.get(call.tool), stage="approval")
        ctx.args_json = canonical_json(call.args)
        ctx.settled_hold = settled_hold_details(record)
        current = self._current_hold(ctx, hold)
        decision = current if isinstance(current, Deny) else self._hold_outcome(ctx, current)
        refusal = self._refusal_if_unaudited(ctx, decision)
        if refusal is not None and isinstance(decision, Allow):
            self._give_back(hold.hold_id)  # not run: the approval may yet be used
        decision = refusal or decision
        digest = _digest_of(call) or ""
        held_this_call = (
            isinstance(current, HoldRecord) and bool(digest) and current.digest == digest
        )
        if isinstance(decision, Deny):
            never_ran = decision.code in _NEVER_RAN and held_this_call
            self._contain(ctx, decision, owner=hold.hold_id if never_ran else None)
        if held_this_call:
            decided = Decided(digest, decision, hold.hold_id, hold.redact, origin=origin)
            self._decided.put(call.key, decided)  # a re-run of the call finds this
        return decision

    def _current_hold(self, ctx: CallContext, hold: Hold) -> HoldRecord | Deny:
        try:
            current = self.approvals.get(hold.hold_id)
        except Exception as exc:  # noqa: BLE001 - any store failure refuses the call
            return ctx.deny(DenyCode.STORE_ERROR, f"approval store unavailable ({_named(exc)})")
        try:  # the approvers' decisions reach the chain before the gate acts on them
            self.approvals.adopt_decisions()
        except Exception as exc:  # noqa: BLE001 - a decision off the chain is not acted on
            return ctx.deny(
                DenyCode.STORE_ERROR, f"approvers' decisions not audited ({_named(exc)})"
            )
        if current is None:
            return ctx.deny(DenyCode.APPROVAL_MISMATCH, f"there is no hold {hold.hold_id!r}")
        ctx.settled_hold = settled_hold_details(current)
        return current

    def _hold_outcome(self, ctx: CallContext, record: HoldRecord) -> Allow | Deny:
        hold_id = record.hold_id
        if record.state is HoldState.APPROVED:
            return self._use_approval(ctx, hold_id)
        if record.state is HoldState.EXECUTED:
            return ctx.deny(
                DenyCode.APPROVAL_USED,
                f"the approval of hold {hold_id} was already used; it authorises one run",
            )
        if record.state is HoldState.PENDING:
            return ctx.deny(
                DenyCode.APPROVAL_PENDING, f"hold {hold_id} is still pending; nothing is decided"
            )
        if record.state is HoldState.DENIED:
            who = ", ".join(record.decided_by) or "an approver"
            reason = f": {record.decision_reason}" if record.decision_reason else ""
            return ctx.deny(DenyCode.APPROVAL_DENIED, f"denied by {who}{reason}")
        how = "unused" if record.decided_by else "without a decision"
        return ctx.deny(
            DenyCode.APPROVAL_EXPIRED,
            f"approval {hold_id} expired at {record.expires_at.isoformat()} {how}",
        )

    def _use_approval(self, ctx: CallContext, hold_id: str) -> Allow | Deny:
        """Use the approval, once, for this very call (given back if the tool cannot start)."""
        try:
            executed = self.approvals.consume(hold_id, ctx.call.binding_digest())
        except ApprovalError as exc:
            return ctx.deny(_REFUSED_USE.get(exc.code, DenyCode.APPROVAL_MISMATCH), str(exc))
        except Exception as exc:  # noqa: BLE001 - any store failure refuses the call
            return ctx.deny(DenyCode.STORE_ERROR, f"approval store unavailable ({_named(exc)})")
        self._unstarted.remember(executed)
        return Allow(call_id=ctx.call.call_id)

    def _give_back(self, hold_id: str) -> None:
        """Give back the approval this process used for ``hold_id``; its tool never started."""
        executed = self._unstarted.take(hold_id)
        if executed is None:  # used elsewhere, or long ago: it stays used (fail closed)
            log.warning("approval_not_returnable", hold_id=hold_id)
            return
        try:
            self.approvals.give_back(executed)
        except Exception:  # it stays used: the call cannot run, which is the safe side
            log.exception("approval_not_returned", hold_id=hold_id)

    def _wait(self, call: ToolCall, hold: Hold, origin: str | None) -> Allow | Deny:
        try:
            with self.observer.span(APPROVAL_WAIT, hold_id=hold.hold_id):
                record = self.approvals.wait(hold.hold_id)
        except Exception as exc:  # noqa: BLE001 - any store failure refuses the call
            reason = f"approval store unavailable ({_named(exc)})"
            return self._refuse(call, DenyCode.STORE_ERROR, reason)
        return self.resolve_hold(call, hold, record, origin=origin)

    async def _await(self, call: ToolCall, hold: Hold, origin: str | None) -> Allow | Deny:
        try:
            with self.observer.span(APPROVAL_WAIT, hold_id=hold.hold_id):
                record = await self.approvals.await_decision(hold.hold_id)
        except Exception as exc:  # noqa: BLE001 - any store failure refuses the call
            reason = f"approval store unavailable ({_named(exc)})"
            return await asyncio.to_thread(self._refuse, call, DenyCode.STORE_ERROR, reason)
        return await asyncio.to_thread(
            functools.partial(self.resolve_hold, call, hold, record, origin=origin)
        )

    def _returned(self, call: ToolCall, hold: Hold, origin: str | None) -> Hold | Allow | Deny:
        """``hold_mode="return"``: the hold while pending; once decided, its decision."""
        try:
            record = self.approvals.get(hold.hold_id)
        except Exception as exc:  # noqa: BLE001 - any store failure refuses the call
            reason = f"approval store unavailable ({_named(exc)})"
            return self._refuse(call, DenyCode.STORE_ERROR, reason)
        if record is None or record.state is HoldState.PENDING:
            return hold
        return self.resolve_hold(call, hold, record, origin=origin)

    # -- running ----------------------------------------------------------------------

    def run(
        self,
        call: ToolCall,
        execute: Callable[[], T],
        *,
        failed: Callable[[T], str | None] | None = None,
        pauses: tuple[type[BaseException], ...] = (),
        origin: str | None = None,
    ) -> Executed[T] | Deny | Hold:
        """Decide ``call`` (once: see :meth:`decide`); run ``execute`` only if allowed (or
        approved); audit the outcome (``failed`` and ``pauses``: see :meth:`run_allowed`)."""
        with self.observer.span(CALL, tool=self._tool_label(call)) as span:
            result = self._run(call, execute, failed=failed, pauses=pauses, origin=origin)
            _describe(span, result)
            return result

    def _run(
        self,
        call: ToolCall,
        execute: Callable[[], T],
        *,
        failed: Callable[[T], str | None] | None,
        pauses: tuple[type[BaseException], ...],
        origin: str | None,
    ) -> Executed[T] | Deny | Hold:
        decided = self.decide(call, origin)
        decision = decided.decision
        if isinstance(decision, Hold):
            if self.settings.hold_mode == "return":
                decision = self._returned(call, decision, origin)
            else:
                decision = self._wait(call, decision, origin)
        if isinstance(decision, Deny | Hold):
            return decision
        return self.run_allowed(
            call,
            execute,
            hold_id=decided.hold_id,
            redact=decided.redact,
            failed=failed,
            pauses=pauses,
        )

    async def arun(
        self,
        call: ToolCall,
        execute: Callable[[], Awaitable[T]],
        *,
        failed: Callable[[T], str | None] | None = None,
        pauses: tuple[type[BaseException], ...] = (),
        origin: str | None = None,
    ) -> Executed[T] | Deny | Hold:
        """Async twin of :meth:`run`; blocking store work runs in worker threads."""
        with self.observer.span(CALL, tool=self._tool_label(call)) as span:
            result = await self._arun(call, execute, failed=failed, pauses=pauses, origin=origin)
            _describe(span, result)
            return result

    async def _arun(
        self,
        call: ToolCall,
        execute: Callable[[], Awaitable[T]],
        *,
        failed: Callable[[T], str | None] | None,
        pauses: tuple[type[BaseException], ...],
        origin: str | None,
    ) -> Executed[T] | Deny | Hold:
        decided = await asyncio.to_thread(self.decide, call, origin)
        decision = decided.decision
        if isinstance(decision, Hold):
            if self.settings.hold_mode == "return":
                decision = await asyncio.to_thread(self._returned, call, decision, origin)
            else:
                decision = await self._await(call, decision, origin)
        if isinstance(decision, Deny | Hold):
            return decision
        return await self.arun_allowed(
            call,
            execute,
            hold_id=decided.hold_id,
            redact=decided.redact,
            failed=failed,
            pauses=pauses,
        )

    def run_allowed(
        self,
        call: ToolCall,
        execute: Callable[[], T],
        *,
        hold_id: str | None = None,
        redact: tuple[str, ...] = (),
        failed: Callable[[T], str | None] | None = None,
        pauses: tuple[type[BaseException], ...] = (),
    ) -> Executed[T] | Deny:
        """Run a call already allowed (or approved): hand over its credential, audit the outcome.

        For adapters that decide with :meth:`decide` / :meth:`resolve_hold` themselves:
        pass the ``hold_id`` of a held call, so that its approval is given back if the
        tool cannot start. An error leaves with any known secret masked (see
        :func:`scrub_exception`). ``failed`` says why a returned value reports a failure
        (audited "error"), else None ("ok"); an exception of a type in ``pauses`` is the
        runtime pausing the call (it runs again on resume): no outcome is audited for it.
        """
        credential = self._before_run(call, hold_id)
        if isinstance(credential, Deny):
            return credential
        try:
            with handed_over(credential):
                value = execute()
        except BaseException as exc:
            self._audit_raised(call, exc, hold_id, pauses)
            failure = scrub_exception(exc, self.vault.registry)
            if failure is exc:
                raise
        else:
            self._audit_returned(call, value, hold_id, failed)
            return Executed(call_id=call.call_id, value=value, hold_id=hold_id, redact=redact)
        raise failure  # outside the handler, so the leaking original is not chained

    async def arun_allowed(
        self,
        call: ToolCall,
        execute: Callable[[], Awaitable[T]],
        *,
        hold_id: str | None = None,
        redact: tuple[str, ...] = (),
        failed: Callable[[T], str | None] | None = None,
        pauses: tuple[type[BaseException], ...] = (),
    ) -> Executed[T] | Deny:
        """Async twin of :meth:`run_allowed`."""
        credential = await asyncio.to_thread(self._before_run, call, hold_id)
        if isinstance(credential, Deny):
            return credential
        try:
            with handed_over(credential):
                value = await execute()
        except BaseException as exc:
            await asyncio.to_thread(self._audit_raised, call, exc, hold_id, pauses)
            failure = scrub_exception(exc, self.vault.registry)
            if failure is exc:
                raise
        else:
            await asyncio.to_thread(self._audit_returned, call, value, hold_id, failed)
            return Executed(call_id=call.call_id, value=value, hold_id=hold_id, redact=redact)
        raise failure  # outside the handler, so the leaking original is not chained

    def _before_run(self, call: ToolCall, hold_id: str | None) -> CallCredential | Deny | None:
        """Last look before the tool runs: not frozen meanwhile; then mint its credential.

        If either fails, the tool never starts: a held call's approval is given back (it
        can still run once, until its hold expires, and keeps its budget for that), an
        unheld call's budget is released.
        """
        ctx = CallContext(call=call, spec=self.tools.get(call.tool), stage="freeze")
        denial = self._last_look.check(ctx)
        if denial is None:
            try:
                credential = self.vault.issue(call, self.tools[call.tool])
            except FirewallError as exc:
                ctx.stage = "credential"
                denial = ctx.deny(DenyCode.CREDENTIAL_ERROR, f"{exc}; call refused")
            else:
                if hold_id is not None:
                    self._unstarted.take(hold_id)  # the tool starts now: the approval is spent
                return credential
        self._decided.forget(call.key)  # not run: a later run decides afresh
        if hold_id is None:
            self.containment.release(reservation_of(call), UNHELD)
        else:
            self._give_back(hold_id)
        return self._refusal_if_unaudited(ctx, denial) or denial

    def _audit_raised(
        self,
        call: ToolCall,
        exc: BaseException,
        hold_id: str | None,
        pauses: tuple[type[BaseException], ...],
    ) -> None:
        """The outcome of a tool that raised; none yet if it only paused (it runs again)."""
        if not isinstance(exc, pauses):
            self._audit_outcome(call, "error", type(exc).__name__, hold_id)

    def _audit_returned(
        self,
        call: ToolCall,
        value: T,
        hold_id: str | None,
        failed: Callable[[T], str | None] | None,
    ) -> None:
        """The outcome of a tool that returned: "error" if its value reports a failure."""
        error = failed(value) if failed is not None else None
        self._audit_outcome(call, "error" if error else "ok", error, hold_id)

    def _audit_outcome(
        self, call: ToolCall, outcome: str, error: str | None, hold_id: str | None = None
    ) -> None:
        self._decided.mark_started(call.key)  # a held call's one run happened
        self._remembered(call, outcome)
        # Off the caller's path where the sink can (SqlAuditLog.append_later): the effect
        # already happened, and the decision record before it was durable.
        append = getattr(self.audit, "append_later", self.audit.append)
        try:
            with self.observer.span(AUDIT_APPEND, event="outcome"):
                append(outcome_event(call, outcome, error, hold_id=hold_id))
        except Exception:  # the effect happened; the call stays "in doubt"
            log.exception("outcome_not_audited", call_id=call.call_id, outcome=outcome)

    # -- personal data ----------------------------------------------------------------

    def restore_args(self, call: ToolCall) -> dict[str, Any]:
        """The call's arguments for the tool itself: the model's tokens resolved to real values.

        Call it inside ``execute`` (after the decision); adapters do. :class:`TokenError`
        if a token is foreign or expired (the decision already refused foreign ones).
        """
        return self.privacy.restore_args(call)

    def protect_output(self, call: ToolCall, value: Any, redact: tuple[str, ...] = ()) -> Any:
        """What the model may see of a tool's output: personal data tokenized, or as configured."""
        return self.privacy.protect_output(call, self.tools.get(call.tool), value, redact)

    def close(self) -> None:
        """Write pending outcome records; release the policy engine and the shared-state stores."""
        try:
            self.approvals.adopt_decisions()
        except Exception:  # they stay journaled: the next writer or checkpoint adopts them
            log.exception("decisions_not_adopted")
        flush = getattr(self.audit, "flush", None)
        if flush is not None:
            try:
                flush()
            except Exception:  # the effects happened; their calls stay "in doubt"
                log.exception("outcomes_not_flushed")
        self.policy.close()
        self.containment.close()
        close_sessions = getattr(self.sessions, "close", None)
        if close_sessions is not None:
            close_sessions()
