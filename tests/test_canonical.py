"""Canonical JSON for digests: the fast path writes exactly what RFC 8785 writes."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from firewall.canonical import (
    MAX_FAST_NODES,
    MAX_SAFE_INTEGER,
    canonical_json,
    digest,
    fast_path_applies,
)

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | TEXT
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(TEXT, inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_canonical_json_equals_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_plain_values_take_the_fast_path_and_others_do_not() -> None:
    assert fast_path_applies({"a": ["x", 1, True, None, ("t",)]})
    assert not fast_path_applies({"amount": 1.5})
    assert not fast_path_applies([2**53])
    assert not fast_path_applies({"\U0001f600": 1})


@pytest.mark.parametrize("value", [math.nan, 2**53, {"text": "\ud800"}, {1: "x"}, object()])
def test_values_without_a_canonical_form_raise_as_rfc8785_does(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        canonical_json(value)


def test_a_cycle_is_left_to_rfc8785_instead_of_walked_forever() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    assert not fast_path_applies(cycle)
    with pytest.raises(RecursionError):
        canonical_json(cycle)


def test_more_nodes_than_the_walk_budget_still_encode_canonically() -> None:
    value = {"items": list(range(MAX_FAST_NODES + 1))}
    assert not fast_path_applies(value)
    assert canonical_json(value) == rfc8785.dumps(value)


def test_digest_is_sha256_of_the_canonical_form() -> None:
    assert digest({"b": 1, "a": "x"}) == digest({"a": "x", "b": 1})
    assert digest({"a": 1}).startswith("sha256:")
