"""``Totals``: which key a call counts under, what the policy is shown, what is reserved."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from firewall.config import parse_config
from firewall.errors import ConfigError
from firewall.stages.base import CallContext
from firewall.totals import MemoryTotals, TotalRule
from firewall.totals.control import Totals, reservation_of
from firewall.types import Deny, DenyCode, Principal, Risk, ToolCall, ToolSpec

REFUND = ToolSpec(name="issue_refund", scope="refunds:write", risk=Risk.HIGH, money_arg="amount")
PER_ORDER = TotalRule(name="per_order", tools=("issue_refund",), by="fact:order.id")
PER_ARG = TotalRule(name="per_order_arg", tools=("issue_refund",), by="arg:order_id")
PER_TENANT = TotalRule(name="per_tenant", tools=("issue_refund",), by="tenant")


def context(
    tenant: str = "acme", agent: str = "bot", amount: Any = 80, order: Any = "o-1"
) -> CallContext:
    who = Principal(agent_id=agent, tenant=tenant, scopes=frozenset({"refunds:write"}))
    call = ToolCall(
        tool="issue_refund", args={"order_id": "o-1", "amount": amount}, principal=who,
        session_id="s-1",
    )  # fmt: skip
    ctx = CallContext(call=call, spec=REFUND)
    ctx.trusted_facts = {"order": {"id": order, "customer_id": "c-100"}}
    return ctx


def key_of(totals: Totals, ctx: CallContext, name: str) -> str | None:
    totals.look(ctx)
    assert ctx.totals_seen is not None
    return ctx.totals_seen[name].key


def test_the_policy_is_shown_cents_units_and_calls() -> None:
    totals = Totals([PER_ORDER])
    ctx = context(amount=19.99)
    totals.look(ctx)
    entries = totals.entries(ctx)
    assert not isinstance(entries, Deny)
    assert totals.store.reserve(reservation_of(ctx.call), entries, owner="unheld").admitted
    assert totals.look(context()) == {"per_order": {"cents": 1999, "amount": 19.99, "calls": 1}}


def test_whole_amounts_are_shown_as_integers() -> None:
    assert Totals([PER_ORDER]).look(context()) == {
        "per_order": {"cents": 0, "amount": 0, "calls": 0}
    }


def test_agents_share_a_key_and_tenants_do_not() -> None:
    totals = Totals([PER_ORDER, PER_TENANT])
    ours = key_of(totals, context(agent="bot-1"), "per_order")
    assert ours == key_of(totals, context(agent="bot-2"), "per_order")
    assert ours != key_of(totals, context(tenant="globex"), "per_order")
    assert key_of(totals, context(agent="x"), "per_tenant") == key_of(
        totals, context(agent="y"), "per_tenant"
    )


def test_a_key_hides_the_value_it_counts_by() -> None:
    key = key_of(Totals([PER_ORDER]), context(order="customer-secret"), "per_order")
    assert key is not None
    assert "customer-secret" not in key
    assert key.startswith("per_order:")


def test_a_total_by_argument_uses_the_argument_and_by_fact_the_fact() -> None:
    totals = Totals([PER_ORDER, PER_ARG])
    ctx = context(order="o-1")
    other = context(order="o-2")  # same argument, another order found
    assert key_of(totals, ctx, "per_order") != key_of(totals, other, "per_order")
    assert key_of(totals, ctx, "per_order_arg") == key_of(totals, other, "per_order_arg")


@pytest.mark.parametrize("order", [None, "", True, 1.5, {"id": 1}])
def test_a_missing_or_odd_key_value_refuses_the_call(order: Any) -> None:
    totals = Totals([PER_ORDER])
    ctx = context(order=order)
    assert totals.look(ctx) == {"per_order": None}
    denial = totals.entries(ctx)
    assert isinstance(denial, Deny)
    assert denial.code is DenyCode.INVALID_CALL
    assert "per_order" in denial.reasons[0]


def test_entries_before_the_policy_read_the_totals_refuse_the_call() -> None:
    denial = Totals([PER_ORDER]).entries(context())
    assert isinstance(denial, Deny)
    assert denial.code is DenyCode.INTERNAL_ERROR


def test_a_tool_without_money_counts_calls() -> None:
    lookup = ToolSpec(name="crm_lookup", scope="crm:read")
    totals = Totals([TotalRule(name="lookups", tools=("crm_lookup",), by="tenant")])
    who = Principal(agent_id="bot", tenant="acme")
    ctx = CallContext(
        call=ToolCall(tool="crm_lookup", args={}, principal=who, session_id="s"), spec=lookup
    )
    totals.look(ctx)
    entries = totals.entries(ctx)
    assert not isinstance(entries, Deny)
    assert [entry.cents for entry in entries] == [0]


def test_the_reservation_id_is_scoped_to_tenant_session_agent_and_tool() -> None:
    call = context().call
    assert reservation_of(call) == reservation_of(call.model_copy())
    assert reservation_of(call) != reservation_of(call.model_copy(update={"tool": "other"}))
    assert reservation_of(call) != reservation_of(call.model_copy(update={"session_id": "s-2"}))


@pytest.mark.parametrize("by", ["customer", "arg:", "fact:order..id", "agent", "arg:a b"])
def test_a_rule_counts_only_by_tenant_an_argument_or_a_fact(by: str) -> None:
    with pytest.raises(ValidationError):
        TotalRule(name="t", tools=("issue_refund",), by=by)


def _config(**extra: Any) -> dict[str, Any]:
    tools = [{"name": "issue_refund", "scope": "refunds:write", "money_arg": "amount"}]
    return {"tools": tools, **extra}


def test_config_reads_totals_and_their_store() -> None:
    config = parse_config(
        _config(
            totals=[{"name": "per_order", "tools": ["issue_refund"], "by": "fact:order.id"}],
            storage={"totals_url": "redis://127.0.0.1:6379/0"},
        )
    )
    assert config.totals == [PER_ORDER]
    assert config.storage.totals() == "redis://127.0.0.1:6379/0"


def test_totals_default_to_the_limits_redis_else_memory() -> None:
    assert parse_config(_config()).storage.totals() == "memory://"
    shared = parse_config(_config(storage={"limits_url": "redis://h:6379/1"}))
    assert shared.storage.totals() == "redis://h:6379/1"


@pytest.mark.parametrize(
    ("totals", "message"),
    [
        ([{"name": "t", "tools": ["nope"], "by": "tenant"}], "undeclared tools: nope"),
        ([{"name": "t", "tools": ["issue_refund"], "by": "tenant"}] * 2, "duplicate total"),
    ],
)
def test_config_refuses_totals_of_unknown_tools_or_twice_named(
    totals: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_config(totals=totals))


def test_config_refuses_a_totals_store_that_is_not_memory_or_redis() -> None:
    with pytest.raises(ConfigError, match="totals_url"):
        parse_config(_config(storage={"totals_url": "sqlite:///t.db"}))


def test_memory_is_the_default_store() -> None:
    assert isinstance(Totals().store, MemoryTotals)
