"""Which numbers every policy engine holds exactly; what an amount of money may be."""

from __future__ import annotations

from typing import Any

import pytest

from firewall.numbers import float_problem, inexact_number, money_problem, number_problem


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, 0.1, 19.99, 100.0000004, 1e-7, 1e-300, 1e308, -1e308, 2.225073858507202e-308],
)
def test_floats_of_sixteen_digits_or_fewer_are_held_exactly(value: float) -> None:
    assert float_problem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.30000000000000004, "more than 16 significant digits; the policy engine would see 0.3"),
        (100.00000000000003, "would see 100.0"),
        (1.7976931348623157e308, "more than 16 significant digits"),
        (2.2250738585072014e-308, "more than 16 significant digits"),
        (5e-324, "a subnormal number"),
        (-1e-310, "a subnormal number"),
        (float("nan"), "is nan, which JSON cannot hold"),
        (float("-inf"), "is -inf, which JSON cannot hold"),
    ],
)
def test_floats_an_engine_would_change_are_named(value: float, problem: str) -> None:
    assert problem in (float_problem(value) or "")


@pytest.mark.parametrize("value", [0, 2**53 - 1, -(2**53 - 1), 100])
def test_safe_integers_are_held_exactly(value: int) -> None:
    assert number_problem(value) is None


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**63, 10**30])
def test_integers_beyond_two_to_the_53_are_refused(value: int) -> None:
    assert "beyond +/-(2**53 - 1)" in (number_problem(value) or "")


def test_the_first_inexact_number_is_found_wherever_it_is_nested() -> None:
    args = {"ok": [1, 2.5, True], "config": {"levels": [1, {"x": 0.1 + 0.2}]}}
    found = inexact_number(args)
    assert found is not None
    name, where, problem = found
    assert (name, where) == ("config", ".levels[1].x")
    assert "0.30000000000000004" in problem


def test_booleans_and_strings_are_not_numbers_to_check() -> None:
    assert inexact_number({"flag": True, "text": "0.30000000000000004", "n": None}) is None


@pytest.mark.parametrize("value", [0, 1, 100, 19.99, 0.01, 1e2, -5, -0.0, 90071992547409.91])
def test_amounts_in_whole_cents_are_money(value: float) -> None:
    assert money_problem(value, 2) is None


@pytest.mark.parametrize(
    ("value", "places", "problem"),
    [
        (100.0000004, 2, "finer than this tool's 2 decimal place(s)"),
        (0.001, 2, "finer than"),
        (19.5, 0, "finer than this tool's 0 decimal place(s)"),
        (19.99, 1, "finer than"),
        ("100", 2, "must be a JSON number, not a string"),
        (True, 2, "not a boolean"),
        (None, 2, "not null"),
        ([100], 2, "not an array"),
        ({"value": 1}, 2, "not an object"),
        (90071992547409.92, 2, "more than the largest amount"),
        (1e300, 2, "more than the largest amount"),
        (0.30000000000000004, 2, "significant digits"),
    ],
)
def test_other_amounts_are_refused_saying_why(value: Any, places: int, problem: str) -> None:
    assert problem in (money_problem(value, places) or "")
