"""The budget stage: money per agent/customer per window, from config and policy obligations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from firewall.containment.budgets import MemoryBudgetLedger
from firewall.containment.outage import OutagePolicy
from firewall.containment.settings import BudgetRule
from firewall.policy.document import DecisionDocument
from firewall.stages.base import CallContext
from firewall.stages.budgets import BudgetCheck, bucket_of
from firewall.types import DenyCode, Obligations, Principal, Risk, ToolCall, ToolSpec

REFUND = ToolSpec(name="issue_refund", scope="refunds:write", risk=Risk.HIGH, money_arg="amount")
LOOKUP = ToolSpec(name="crm_lookup", scope="crm:read")
PER_AGENT = BudgetRule(tool="issue_refund", per="agent", amount=Decimal(2000), window="1 hour")
PER_CUSTOMER = BudgetRule(tool="issue_refund", per="customer", amount=Decimal(500), window="1 day")


def ctx(
    amount: Any = 100, agent: str = "bot-1", customer: str = "customer:1", spec: ToolSpec = REFUND
) -> CallContext:
    principal = Principal(agent_id=agent, tenant="acme", on_behalf_of=customer)
    args = {"order_id": "o-1", "amount": amount}
    call = ToolCall(tool=spec.name, args=args, principal=principal, session_id="s-1")
    return CallContext(call=call, spec=spec)


def check(*rules: BudgetRule) -> BudgetCheck:
    return BudgetCheck(rules or (PER_AGENT, PER_CUSTOMER), MemoryBudgetLedger())


def test_refunds_within_every_budget_pass() -> None:
    stage = check()
    assert stage.check(ctx(300)) is None
    assert stage.check(ctx(200)) is None


def test_per_customer_budget_refuses_and_names_the_rule() -> None:
    stage = check()
    stage.check(ctx(450))
    denial = stage.check(ctx(60))
    assert denial is not None
    assert denial.code is DenyCode.BUDGET_EXCEEDED
    assert denial.reasons == (
        "budget exceeded: budgets[1]: 500.00 per customer per 1 day for tool 'issue_refund'"
        " (450.00 used, 60.00 asked)",
    )
    assert denial.retry_after_s == pytest.approx(86400, abs=5)


def test_per_agent_budget_spans_customers() -> None:
    stage = check()
    for n in range(4):
        assert stage.check(ctx(500, customer=f"customer:{n}")) is None
    denial = stage.check(ctx(1, customer="customer:9"))
    assert denial is not None
    assert "2000.00 per agent per 1 hour" in denial.reasons[0]
    assert stage.check(ctx(1, agent="bot-2", customer="customer:9")) is None


def test_tools_without_a_rule_are_not_counted() -> None:
    stage = check()
    lookup = ctx(spec=LOOKUP)
    assert stage.check(lookup) is None


def test_wildcard_rules_count_only_tools_that_move_money() -> None:
    anything = BudgetRule(tool="*", per="agent", amount=Decimal(10), window="1 hour")
    stage = check(anything)
    assert stage.check(ctx(spec=LOOKUP)) is None
    denial = stage.check(ctx(11))
    assert denial is not None
    assert denial.code is DenyCode.BUDGET_EXCEEDED


@pytest.mark.parametrize("amount", ["lots", -5, None, float("inf")])
def test_an_unreadable_amount_is_refused_naming_the_field(amount: Any) -> None:
    denial = check().check(ctx(amount))
    assert denial is not None
    assert denial.code is DenyCode.INVALID_ARGS
    assert "'amount'" in denial.reasons[0]


@pytest.mark.parametrize("amount", ["100", "1e2", True, 100.001, 0.004, 5e-324])
def test_an_amount_the_policy_would_see_otherwise_is_refused_before_reserving(
    amount: Any,
) -> None:
    """Strings, booleans and fractions of a cent: the budget would count other money."""
    ledger = MemoryBudgetLedger()
    denial = BudgetCheck((PER_AGENT,), ledger).check(ctx(amount))
    assert denial is not None
    assert denial.code is DenyCode.INVALID_ARGS
    assert "'amount'" in denial.reasons[0]
    assert ledger.used(bucket_of(PER_AGENT, ctx().call, "budgets[0]")) == 0


def test_an_amount_in_whole_cents_is_reserved_exactly() -> None:
    ledger = MemoryBudgetLedger()
    assert BudgetCheck((PER_AGENT,), ledger).check(ctx(19.99)) is None
    assert ledger.used(bucket_of(PER_AGENT, ctx().call, "budgets[0]")) == 1999


def test_policy_obligations_add_budgets() -> None:
    obligations = Obligations.model_validate(
        {"budgets": [{"per": "customer", "amount": 100, "window": "1 day"}]}
    )
    stage = BudgetCheck((), MemoryBudgetLedger())
    first, second = ctx(80), ctx(30)
    for context in (first, second):
        context.policy = DecisionDocument(outcome="allow", reasons=(), obligations=obligations)
    assert stage.check(first) is None
    denial = stage.check(second)
    assert denial is not None
    assert "policy obligation budgets[0]: 100.00 per customer per 1 day" in denial.reasons[0]


def test_an_obligation_on_a_tool_without_money_arg_is_refused() -> None:
    obligations = Obligations.model_validate({"budgets": [{"amount": 1, "window": "1 day"}]})
    context = ctx(spec=LOOKUP)
    context.policy = DecisionDocument(outcome="allow", reasons=(), obligations=obligations)
    denial = BudgetCheck((), MemoryBudgetLedger()).check(context)
    assert denial is not None
    assert "no money_arg" in denial.reasons[0]


def test_a_reused_call_id_is_refused() -> None:
    stage, context = check(), ctx(10)
    assert stage.check(context) is None
    denial = stage.check(context)
    assert denial is not None
    assert denial.code is DenyCode.INVALID_CALL
    assert "already holds a budget reservation" in denial.reasons[0]


class DownLedger(MemoryBudgetLedger):
    where = "Redis at 10.0.0.1:6379"

    def reserve(self, *_args: object) -> Any:
        raise ConnectionError("refused")


def test_ledger_outage_fails_closed_even_when_low_risk_may_fail_open() -> None:
    stage = BudgetCheck([PER_AGENT], DownLedger(), OutagePolicy(fail_open_low_risk=True))
    denial = stage.check(ctx(10))
    assert denial is not None
    assert denial.code is DenyCode.LIMITER_ERROR
    assert denial.reasons[0].startswith("budget ledger unavailable (Redis at 10.0.0.1:6379")


def test_bucket_keys_hide_the_subject_and_separate_windows() -> None:
    hourly = bucket_of(PER_AGENT, ctx().call, "budgets[0]")
    daily = bucket_of(PER_AGENT.model_copy(update={"window": "1 day"}), ctx().call, "b")
    assert "bot-1" not in hourly.key
    assert hourly.key != daily.key
    assert (hourly.limit, hourly.window_s) == (200_000, 3600)
