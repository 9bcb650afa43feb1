"""The valid-arguments stage's own checks: declared names, exact numbers, money precision."""

from __future__ import annotations

from typing import Any

import pytest

from firewall.stages.arguments import money_problem_text, number_problem_text, undeclared_problem
from firewall.types import Risk, ToolSpec

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
}
REFUND = ToolSpec(
    name="issue_refund",
    scope="refunds:write",
    risk=Risk.HIGH,
    money_arg="amount",
    args_schema=SCHEMA,
)


def test_an_undeclared_argument_is_named_with_what_the_tool_takes() -> None:
    problem = undeclared_problem(REFUND, {"amount": 50, "amount_cents": 900000})
    assert problem == (
        "argument 'amount_cents' is not allowed: tool 'issue_refund' does not declare it"
        " (it takes: 'amount', 'order_id')"
    )


def test_many_undeclared_arguments_are_listed_up_to_five() -> None:
    problem = undeclared_problem(REFUND, {f"x{i}": i for i in range(7)})
    assert problem is not None
    assert problem.startswith("arguments 'x0', 'x1', 'x2', 'x3', 'x4', ... are not allowed")


def test_a_long_argument_name_is_quoted_cut() -> None:
    problem = undeclared_problem(REFUND, {"a" * 10_000: 1})
    assert problem is not None
    assert len(problem) < 300


def test_a_tool_without_a_schema_says_how_to_declare_one() -> None:
    bare = REFUND.model_copy(update={"args_schema": None})
    problem = undeclared_problem(bare, {"amount": 5})
    assert problem is not None
    assert "argument 'amount' is not allowed: tool 'issue_refund' has no args_schema" in problem
    assert "guard_tools or FirewallMiddleware" in problem
    assert undeclared_problem(bare, {}) is None


def test_declared_arguments_pass() -> None:
    assert undeclared_problem(REFUND, {"order_id": "o", "amount": 5}) is None


def test_an_inexact_nested_number_is_named_with_its_place() -> None:
    problem = number_problem_text({"config": {"levels": [1, 0.1 + 0.2]}})
    assert problem is not None
    assert problem.startswith("argument 'config' holds a number at '.levels[1]' that is 0.3000")


@pytest.mark.parametrize("amount", [50, 50.5, 19.99])
def test_an_amount_in_cents_passes(amount: float) -> None:
    assert money_problem_text(REFUND, {"amount": amount}) is None


def test_an_amount_finer_than_the_precision_names_the_argument() -> None:
    assert money_problem_text(REFUND, {"amount": 100.0000004}) == (
        "argument 'amount' (the amount of money) is 100.0000004, finer than this tool's"
        " 2 decimal place(s) (money_precision); round the amount, or refuse it"
    )


def test_an_absent_amount_or_a_tool_without_money_is_not_checked_here() -> None:
    assert money_problem_text(REFUND, {"order_id": "o"}) is None
    plain = REFUND.model_copy(update={"money_arg": None})
    assert money_problem_text(plain, {"amount": "lots"}) is None


@pytest.mark.parametrize("places", [-1, 3])
def test_money_precision_is_zero_to_two_places(places: int) -> None:
    """Budgets count whole cents, so a finer precision could not be budgeted exactly."""
    with pytest.raises(ValueError, match="money_precision"):
        ToolSpec.model_validate({**REFUND.model_dump(), "money_precision": places})
