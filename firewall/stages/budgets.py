"""The budget stage: reserve the call's amount of money against every applicable budget.

Budgets come from the config (``[[budgets]]``) and from the policy's obligations
(``obligations.budgets``, counted per tool). The reservation is keyed by the call id
scoped to its tenant, session and agent (:func:`reservation_of`: model-chosen ids repeat
across conversations), and owned by the hold that will decide the call, if the policy
holds it (:func:`owner_of`). The gate releases it only when the call provably never ran.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from firewall.canonical import canonical_json, sha256_hex
from firewall.containment.budgets import UNHELD, Bucket, BudgetLedger, money, to_minor_units
from firewall.containment.outage import OutagePolicy
from firewall.containment.settings import BudgetRule
from firewall.numbers import money_problem
from firewall.stages.base import CallContext
from firewall.stages.limits import subject_of
from firewall.types import Deny, DenyCode, ToolCall, window_seconds


def bucket_of(rule: BudgetRule, call: ToolCall, source: str) -> Bucket:
    """The bucket ``call`` counts against under ``rule``; the key hides who the subject is."""
    window_s = window_seconds(rule.window)
    subject = sha256_hex(subject_of(rule.per, call.principal).encode("utf-8"))[:32]
    return Bucket(
        key=f"{rule.tool}:{rule.per}:{window_s}:{subject}",
        limit=to_minor_units(rule.amount),
        window_s=window_s,
        label=f"{source}: {money(to_minor_units(rule.amount))} per {rule.per}"
        f" per {rule.window} for tool {rule.tool!r}",
    )


def reservation_of(call: ToolCall) -> str:
    """The budget reservation id of ``call``: its call id scoped to tenant, session, agent.

    Another tenant's (or conversation's) ``call_1`` is another reservation: it can neither
    collide with this one nor release it.
    """
    scope = [call.principal.tenant, call.session_id, call.principal.agent_id, call.call_id]
    return "r" + sha256_hex(canonical_json(scope))[:40]


def owner_of(ctx: CallContext) -> str:
    """Who may release ``ctx``'s reservation: the hold the policy asks for, else UNHELD."""
    held = ctx.policy is not None and ctx.policy.outcome == "hold"
    return ctx.hold_id if held else UNHELD


class BudgetCheck:
    """Deny a call whose amount would overrun a budget; reserve it otherwise."""

    name = "budget"

    def __init__(
        self,
        rules: Iterable[BudgetRule],
        ledger: BudgetLedger,
        outage: OutagePolicy | None = None,
    ) -> None:
        self._rules = tuple(rules)
        self._ledger = ledger
        self._outage = outage or OutagePolicy()

    def check(self, ctx: CallContext) -> Deny | None:
        buckets = self._buckets(ctx)
        if not buckets:
            return None
        amount = self._amount(ctx)
        if isinstance(amount, Deny):
            return amount
        try:
            result = self._ledger.reserve(
                reservation_of(ctx.call), amount, buckets, owner=owner_of(ctx)
            )
        except Exception as exc:  # noqa: BLE001 - the ledger cannot answer: fail closed
            risk = ctx.spec.risk if ctx.spec else None
            return self._outage.refusal(ctx, "budget ledger", self._ledger.where, exc, risk)
        if result.duplicate:
            return ctx.deny(
                DenyCode.INVALID_CALL,
                f"call id {ctx.call.call_id!r} already holds a budget reservation;"
                " each call needs a new id",
            )
        if result.admitted:
            return None
        assert result.exhausted is not None  # noqa: S101 - set whenever not admitted
        return ctx.deny(
            DenyCode.BUDGET_EXCEEDED,
            f"budget exceeded: {result.exhausted.label} ({money(result.used)} used,"
            f" {money(amount)} asked)",
            retry_after_s=result.retry_after_s,
        )

    def _buckets(self, ctx: CallContext) -> list[Bucket]:
        tool = ctx.call.tool
        buckets = [
            bucket_of(rule, ctx.call, f"budgets[{i}]")
            for i, rule in enumerate(self._rules)
            if rule.applies_to(ctx.tool_spec)
        ]
        if ctx.policy is not None:
            for i, ob in enumerate(ctx.policy.obligations.budgets):
                rule = BudgetRule(
                    tool=tool, per=ob.per, amount=Decimal(str(ob.amount)), window=ob.window
                )
                buckets.append(bucket_of(rule, ctx.call, f"policy obligation budgets[{i}]"))
        return buckets

    def _amount(self, ctx: CallContext) -> int | Deny:
        money_arg = ctx.tool_spec.money_arg
        if money_arg is None:
            return ctx.deny(
                DenyCode.INVALID_CALL,
                f"tool {ctx.call.tool!r} has a budget but no money_arg naming its amount",
            )
        amount = ctx.call.args.get(money_arg)
        # The amount the policy compared and the tool gets: a number, whole cents at most.
        problem = money_problem(amount, ctx.tool_spec.money_precision)
        if problem is not None:
            reason = f"field {money_arg!r} (budgeted amount) {problem}"
            return ctx.deny(DenyCode.INVALID_ARGS, reason)
        try:
            return to_minor_units(amount)
        except (TypeError, ValueError) as exc:
            return ctx.deny(DenyCode.INVALID_ARGS, f"field {money_arg!r} (budgeted amount) {exc}")
