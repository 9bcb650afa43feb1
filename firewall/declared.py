"""Which arguments a tool declares: only those may reach it.

A policy is written against a tool's declared arguments. An argument it was not written
for (``amount_cents: 900000`` beside ``amount: 50``) must not reach a tool that would
read it, so:

- a top-level argument is declared by the ``properties`` of the tool's JSON Schema; any
  other is refused, unless the schema admits others itself (``additionalProperties``
  other than ``false``, ``patternProperties`` or ``unevaluatedProperties``). JSON Schema
  would let an unlisted one through; pydantic models, which LangChain tools use, drop it.
- nested objects are read the same way: :func:`closed` adds ``additionalProperties:
  false`` to every object subschema that lists ``properties`` and says nothing about
  others, following ``properties``, ``items``, ``anyOf``/``oneOf`` and ``$defs``. Parts
  of a combined schema (``allOf``, ``if``/``then``/``else``, ``not``) are left as
  written: closing one part would refuse the properties its siblings declare.
- a tool without a schema (none in its spec, none adopted from a LangChain tool yet)
  declares nothing, so any argument it is given is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_OPEN_KEYS = ("additionalProperties", "patternProperties", "unevaluatedProperties")
_NAMED_SUBSCHEMAS = ("properties", "patternProperties", "$defs", "definitions")
_LISTED_SUBSCHEMAS = ("anyOf", "oneOf", "prefixItems", "items")
_SINGLE_SUBSCHEMAS = ("items", "additionalProperties")


def admits_others(schema: Mapping[str, Any]) -> bool:
    """Whether ``schema`` lets an object hold properties it does not list."""
    if schema.get("additionalProperties", False) is not False:
        return True
    return "patternProperties" in schema or schema.get("unevaluatedProperties", False) is not False


def undeclared(schema: Mapping[str, Any] | None, args: Mapping[str, Any]) -> list[str]:
    """The names in ``args`` that ``schema`` does not declare, in the order given."""
    if schema is None:
        return list(args)
    if admits_others(schema):
        return []
    declared = schema.get("properties")
    names = declared if isinstance(declared, Mapping) else {}
    return [name for name in args if name not in names]


def closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` wherever it lists properties only."""
    if not isinstance(schema, Mapping):
        return schema
    result = dict(schema)
    for key in _NAMED_SUBSCHEMAS:
        if isinstance(result.get(key), Mapping):
            result[key] = {name: closed(sub) for name, sub in result[key].items()}
    for key in _LISTED_SUBSCHEMAS:
        if isinstance(result.get(key), list):
            result[key] = [closed(sub) for sub in result[key]]
    for key in _SINGLE_SUBSCHEMAS:
        if isinstance(result.get(key), Mapping):
            result[key] = closed(result[key])
    lists_properties = isinstance(result.get("properties"), Mapping)
    if lists_properties and not any(key in result for key in (*_OPEN_KEYS, "allOf", "$ref")):
        result["additionalProperties"] = False
    return result
