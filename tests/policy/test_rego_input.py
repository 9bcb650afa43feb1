"""Handing Python values to regopy as ``input``: exactly as JSON says, or refused naming where."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firewall.errors import PolicyError
from firewall.policy import rego_input
from firewall.policy.files import RegoModule
from firewall.policy.rego_runtime import compile_bundle, new_interpreter, query

ECHO = RegoModule(
    "echo.rego",
    """package echo

import rego.v1

value := input

marshalled := json.marshal(input)

above_100 := [x | some x in input.numbers; x > 100]

has_a := "a" in input.set
""",
)
Echo = Callable[..., Any]


@pytest.fixture(scope="module")
def echo() -> Echo:
    """Set ``input`` and read an entrypoint of :data:`ECHO` back."""
    entrypoints = ["echo/value", "echo/marshalled", "echo/above_100", "echo/has_a"]
    bundle = compile_bundle([ECHO], entrypoints)
    interpreter = new_interpreter()

    def run(value: Any, entrypoint: str = "echo/value") -> Any:
        rego_input.set_input(interpreter, value)
        return query(interpreter, bundle, entrypoint)

    return run


def test_json_values_arrive_unchanged(echo: Echo) -> None:
    value = {
        "s": 'text é ✓ 😀 \u2028 \x7f "quoted" back\\slash \x01',
        "i": -(2**63),
        "big": 2**63 - 1,
        "f": 2.5,
        "t": True,
        "f2": False,
        "n": None,
        "list": [1, "a", [None]],
        "nested": {"a": {"b": {}}},
        "empty": [],
    }
    assert echo(value) == value


def test_tuples_become_arrays_and_sets_stay_sets(echo: Echo) -> None:
    assert echo({"t": (1, 2), "s": frozenset({"b", "a"})}) == {"t": [1, 2], "s": ["a", "b"]}
    assert echo({"set": {"a", "b"}}, "echo/has_a") is True
    assert echo({"set": set()}, "echo/has_a") is False


def test_bool_is_not_mistaken_for_an_integer(echo: Echo) -> None:
    assert echo([True, 1]) == [True, 1]


def test_an_int_enum_arrives_as_its_number(echo: Echo) -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    assert echo({"level": Level.HIGH}) == {"level": 3}


@pytest.mark.parametrize(
    "number",
    [100.0000004, 5000.0000004, 1e-7, 2.5e-10, 1e-300, 123456789.1234567, 1e308, -1e308],
)
def test_floats_keep_every_digit_rounding_to_six_decimals_would_drop(
    echo: Echo, number: float
) -> None:
    assert echo({"x": number}) == {"x": number}


def test_a_float_a_hair_above_a_threshold_compares_above_it(echo: Echo) -> None:
    assert echo({"numbers": [100, 100.0000004, 99.9999999]}, "echo/above_100") == [100.0000004]


def test_negative_zero_is_zero(echo: Echo) -> None:
    """Rego compares -0.0 equal to 0 (as Python does); the policy cannot tell them apart."""
    assert echo({"x": -0.0}) == {"x": 0}


def test_arrays_are_ones_json_marshal_can_read(echo: Echo) -> None:
    """regopy's own input builder gives arrays json.marshal answers *undefined* for."""
    assert echo({"a": ["evil", [1]]}, "echo/marshalled") == '{"a":["evil",[1]]}'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"args": {"amount": float("nan")}}, r"input\.args\.amount is nan"),
        ({"args": {"amount": float("inf")}}, r"input\.args\.amount is inf"),
        ({"args": [1, 2**64]}, r"input\.args\[1\] is an integer outside the 64-bit range"),
        ({"args": {"id": "o1\0admin"}}, r"input\.args\.id holds a NUL character"),
        ({"args": {"id": "\ud800"}}, r"input\.args\.id holds a lone surrogate"),
        ({"args": {1: "x"}}, r"input\.args has a non-string key 1"),
        ({"when": Path("/x")}, r"input\.when is a \w*Path, not a JSON value"),
        ({"x": 0.30000000000000004}, r"input\.x is 0\.30000000000000004, which needs more"),
        ({"x": [5e-324]}, r"input\.x\[0\] is 5e-324, a subnormal number"),
        ({"x": 1.7976931348623157e308}, r"input\.x is 1\.7976931348623157e\+308, which needs"),
    ],
)
def test_non_json_input_is_refused_naming_where(echo: Echo, value: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        echo(value)


def test_too_deep_input_is_refused(echo: Echo) -> None:
    value: Any = "leaf"
    for _ in range(5000):
        value = [value]
    with pytest.raises(PolicyError, match="nested too deeply"):
        echo(value)


TEXT = st.characters(exclude_characters="\0", exclude_categories=["Cs"])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(TEXT, max_size=4), inner),
    max_leaves=12,
)


def _held_exactly(value: Any) -> bool:
    """The oracle: every float has at most 16 significant digits and is not subnormal."""
    if isinstance(value, float):
        normal = value == 0 or abs(value) >= sys.float_info.min
        return normal and float(f"{value:.16g}") == value
    if isinstance(value, dict):
        return all(map(_held_exactly, value.values()))
    if isinstance(value, list):
        return all(map(_held_exactly, value))
    return True


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_every_json_value_arrives_exactly_or_is_refused(echo: Echo, value: Any) -> None:
    """Floats rego-cpp would round (17 digits, subnormal) are refused; the rest arrive as sent."""
    if _held_exactly(value):
        assert echo({"v": value}) == {"v": value}
    else:
        with pytest.raises(PolicyError, match=r"(?s)input\.v.* (significant digits|subnormal)"):
            echo({"v": value})
