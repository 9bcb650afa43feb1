"""Which arguments a tool declares, and schemas that refuse undeclared nested properties."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from firewall.declared import admits_others, closed, undeclared

PROPERTIES: dict[str, Any] = {"type": "object", "properties": {"a": {}, "b": {}}}


def test_a_schema_declares_its_top_level_properties() -> None:
    assert undeclared(PROPERTIES, {"a": 1, "c": 2, "b": 3, "d": 4}) == ["c", "d"]


def test_no_schema_declares_nothing() -> None:
    assert undeclared(None, {"a": 1}) == ["a"]
    assert undeclared(None, {}) == []


@pytest.mark.parametrize(
    "opening",
    [
        {"additionalProperties": True},
        {"additionalProperties": {"type": "string"}},
        {"additionalProperties": {}},
        {"patternProperties": {"^x_": {}}},
        {"unevaluatedProperties": True},
    ],
)
def test_a_schema_that_admits_others_says_so_explicitly(opening: dict[str, Any]) -> None:
    schema = {**PROPERTIES, **opening}
    assert admits_others(schema)
    assert undeclared(schema, {"c": 1}) == []


@pytest.mark.parametrize("closing", [{}, {"additionalProperties": False}])
def test_saying_nothing_of_others_refuses_them(closing: dict[str, Any]) -> None:
    assert not admits_others({**PROPERTIES, **closing})


def validates(schema: dict[str, Any], value: Any) -> bool:
    return jsonschema.Draft202012Validator(closed(schema)).is_valid(value)


NESTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order": {"$ref": "#/$defs/Order"},
        "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {}}}},
        "maybe": {"anyOf": [{"type": "object", "properties": {"x": {}}}, {"type": "null"}]},
        "free": {"type": "object"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "$defs": {"Order": {"type": "object", "properties": {"id": {}, "amount": {}}}},
}


@pytest.mark.parametrize(
    "value",
    [
        {"order": {"id": "o", "amount": 1}},
        {"lines": [{"sku": "a"}, {}]},
        {"maybe": {"x": 1}},
        {"maybe": None},
        {"free": {"anything": 1}},
        {"tags": {"any": "text"}},
    ],
)
def test_declared_nested_properties_pass(value: dict[str, Any]) -> None:
    assert validates(NESTED, value)


@pytest.mark.parametrize(
    "value",
    [
        {"order": {"id": "o", "amount_cents": 1}},
        {"lines": [{"sku": "a", "price": 0}]},
        {"maybe": {"x": 1, "y": 2}},
        {"tags": {"any": 1}},
        {"other": 1},
    ],
)
def test_undeclared_nested_properties_are_refused(value: dict[str, Any]) -> None:
    assert not validates(NESTED, value)


def test_parts_of_an_all_of_are_left_open() -> None:
    """Each part lists some properties; closing one would refuse its sibling's."""
    schema = {
        "type": "object",
        "allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}],
    }
    assert validates(schema, {"a": 1, "b": 2})


def test_a_property_named_like_a_keyword_is_just_a_name() -> None:
    schema = {"type": "object", "properties": {"items": {"type": "object", "properties": {}}}}
    assert closed(schema)["properties"]["items"]["additionalProperties"] is False
    assert validates(schema, {"items": {}})
    assert not validates(schema, {"items": {"x": 1}})


def test_the_schema_given_is_not_changed() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "object", "properties": {}}}}
    closed(schema)
    assert "additionalProperties" not in schema
    assert "additionalProperties" not in schema["properties"]["a"]
