"""Canonical JSON: the fast path writes exactly what RFC 8785 (``rfc8785``) writes."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from firewall.audit.jcs import MAX_SAFE_INTEGER, canonical
from firewall.errors import AuditError

SAFE_INTS = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    st.none() | st.booleans() | SAFE_INTS | TEXT | FLOATS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_canonical_equals_rfc8785(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value).decode("utf-8")


def test_keys_outside_the_bmp_sort_by_utf16_code_units() -> None:
    value = {"\U0001f600": 1, "\ue000": 2}
    assert canonical(value) == '{"\U0001f600":1,"\ue000":2}'


def test_floats_are_written_as_ecmascript_numbers() -> None:
    assert canonical({"amount": 1.0, "big": 1e21}) == '{"amount":1,"big":1e+21}'


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, 2**53, {"text": "\ud800"}],
    ids=["nan", "inf", "2**53", "surrogate"],
)
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(AuditError, match="not canonical JSON"):
        canonical(value)
