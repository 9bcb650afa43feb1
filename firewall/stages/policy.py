"""The policy stage: gather trusted facts, ask the Rego policy, keep its decision."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from firewall.audit.vault import sealed_mentions
from firewall.errors import PolicyError, SessionStoreError
from firewall.pii.privacy import Privacy
from firewall.policy.document import checked_decision
from firewall.policy.engine import PolicyEngine
from firewall.session import SessionStore, session_view
from firewall.stages.base import CallContext
from firewall.stages.shape import shape_problem
from firewall.totals.control import Totals
from firewall.types import Deny, DenyCode, ToolCall

FactsProvider = Callable[[ToolCall], Mapping[str, Any]]
"""Trusted lookup for one tool (e.g. the order a refund refers to), never agent-supplied."""


def policy_input(
    ctx: CallContext,
    now: datetime,
    session: Mapping[str, Any] | None = None,
    totals: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The input document of the policy, as described in ARCHITECTURE.md section 3."""
    call = ctx.call
    provenance = ctx.provenance or {}
    return {
        "tool": ctx.tool_spec.policy_view(),
        "args": call.args if ctx.policy_args is None else ctx.policy_args,
        "tokens": provenance.get("tokens", {}),
        "arg_sources": provenance.get("arg_sources", {}),
        "principal": call.principal.policy_view(),
        "session": session if session is not None else session_view(call.session_id),
        "context": {"time": now.isoformat(), "facts": dict(ctx.facts), "totals": totals or {}},
    }


class PolicyCheck:
    """Ask the policy engine; any engine failure or malformed answer is a deny."""

    name = "policy"

    def __init__(
        self,
        engine: PolicyEngine,
        clock: Callable[[], datetime],
        facts: Mapping[str, FactsProvider] | None = None,
        sessions: SessionStore | None = None,
        privacy: Privacy | None = None,
        *,
        totals: Totals | None = None,
    ) -> None:
        self._engine = engine
        self._totals = totals
        self._clock = clock
        self._facts: Mapping[str, FactsProvider] = dict(facts or {})
        self._sessions = sessions
        self._privacy = privacy

    def check(self, ctx: CallContext) -> Deny | None:
        denial = self._gather_facts(ctx)
        if denial is not None:
            return denial
        call = ctx.call
        try:
            session = (
                self._sessions.policy_view(call.principal.tenant, call.session_id)
                if self._sessions
                else None
            )
        except SessionStoreError as exc:
            return ctx.deny(DenyCode.STORE_ERROR, f"{exc}; call refused")
        totals = self._read_totals(ctx)
        if isinstance(totals, Deny):
            return totals
        ctx.policy_input = policy_input(ctx, self._clock(), session, totals)
        try:
            document = checked_decision(self._engine.evaluate(ctx.policy_input))
        except PolicyError as exc:
            return ctx.deny(DenyCode.POLICY_ERROR, f"policy could not decide: {exc}")
        ctx.policy = document
        if self._privacy is not None:
            ctx.policy_capture = self._privacy.replayable(ctx.policy_input, _known_values(ctx))
        if document.outcome == "deny":
            reasons = document.reasons or ("denied by policy",)
            return ctx.deny(DenyCode.POLICY, *reasons)
        return None

    def _read_totals(self, ctx: CallContext) -> dict[str, Any] | Deny:
        """The running totals this call counts against (trusted input), read from the store."""
        if self._totals is None or not self._totals.applies(ctx.call.tool):
            return {}
        try:
            return self._totals.look(ctx)
        except Exception as exc:  # noqa: BLE001 - no totals, no decision on them
            where = self._totals.where
            reason = f"totals store unavailable ({where}: {type(exc).__name__}); call refused"
            return ctx.deny(DenyCode.STORE_ERROR, reason)

    def _gather_facts(self, ctx: CallContext) -> Deny | None:
        provider = self._facts.get(ctx.call.tool)
        if provider is None:
            return None
        try:
            facts = dict(provider(ctx.call_for_lookups()))
            problem = shape_problem(facts, what="fact")  # before anything recurses into them
            if problem is not None:
                return ctx.deny(DenyCode.POLICY_ERROR, f"facts for {ctx.call.tool!r}: {problem}")
            ctx.trusted_facts = facts
            ctx.facts = self._privacy.commit(facts) if self._privacy else facts
        except Exception as exc:  # noqa: BLE001 - any lookup failure must fail closed
            return ctx.deny(
                DenyCode.POLICY_ERROR,
                f"facts lookup for {ctx.call.tool!r} failed ({type(exc).__name__})",
            )
        return None


def _known_values(ctx: CallContext) -> set[str]:
    """Values the audit log seals wherever they appear: the call's subject and personal args."""
    args = ctx.call.args
    personal = [args[name] for name in ctx.tool_spec.personal_args if name in args]
    return sealed_mentions(ctx.call.principal.on_behalf_of, personal)
