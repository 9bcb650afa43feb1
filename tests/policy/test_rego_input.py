"""Handing Python values to regopy as ``input``: JSON only, with the bad spot named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firewall.errors import PolicyError
from firewall.policy import rego_input
from firewall.policy.files import RegoModule
from firewall.policy.rego_runtime import compile_bundle, new_interpreter, query

ECHO = RegoModule("echo.rego", "package echo\n\nvalue := input\n")


@pytest.fixture(params=[True, False], ids=["native", "regopy.Input"])
def echo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Any]:
    """Round-trip a value through input, with the fast builder and with the fallback."""
    monkeypatch.setattr(rego_input, "NATIVE", request.param)
    bundle = compile_bundle([ECHO], ["echo/value"])
    interpreter = new_interpreter()

    def run(value: Any) -> Any:
        rego_input.set_input(interpreter, value)
        return query(interpreter, bundle, "echo/value")

    return run


def test_json_values_arrive_unchanged(echo: Callable[[Any], Any]) -> None:
    value = {
        "s": "text é ✓",
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


def test_tuples_become_arrays_and_sets_become_sorted_arrays(echo: Callable[[Any], Any]) -> None:
    assert echo({"t": (1, 2), "s": frozenset({"b", "a"})}) == {"t": [1, 2], "s": ["a", "b"]}


def test_bool_is_not_mistaken_for_an_integer(echo: Callable[[Any], Any]) -> None:
    assert echo([True, 1]) == [True, 1]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"args": {"amount": float("nan")}}, r"input\.args\.amount is nan"),
        ({"args": {"amount": float("inf")}}, r"input\.args\.amount is inf"),
        ({"args": [1, 2**64]}, r"input\.args\[1\] is an integer outside the 64-bit range"),
        ({"args": {"id": "o1\0admin"}}, r"input\.args\.id holds a NUL character"),
        ({"args": {1: "x"}}, r"input\.args has a non-string key 1"),
        ({"when": Path("/x")}, r"input\.when is a \w*Path, not a JSON value"),
    ],
)
def test_non_json_input_is_refused_naming_where(
    echo: Callable[[Any], Any], value: Any, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        echo(value)


def test_too_deep_input_is_refused(echo: Callable[[Any], Any]) -> None:
    value: Any = "leaf"
    for _ in range(5000):
        value = [value]
    with pytest.raises(PolicyError, match="nested too deeply"):
        echo(value)


def test_native_builder_is_available_with_this_regopy() -> None:
    """Guards the fast path: if regopy's C binding changes, this says so."""
    assert rego_input.NATIVE is True
