"""The JSON Schema of a LangChain tool's arguments, and the arguments as its schema reads them."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from firewall.canonical import canonical_json
from firewall.stages.shape import shape_problem
from firewall.stages.tools import MAX_ARGS_BYTES

_VARIADIC = frozenset({"args", "kwargs"})  # pydantic's fields for *args / **kwargs


def args_json_schema(tool: BaseTool) -> dict[str, Any]:
    """``tool.tool_call_schema`` as JSON Schema (it may be a dict or a pydantic model)."""
    schema = tool.tool_call_schema
    if isinstance(schema, dict):
        return schema
    if issubclass(schema, BaseModel):
        return schema.model_json_schema()
    return dict(schema.schema())  # a pydantic v1 model


def parsed_args(tool: BaseTool | None, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` as the tool will get them: coerced by its schema, defaults filled, as JSON.

    LangChain parses a tool's arguments with its pydantic model before the tool runs:
    ``"100.0000004"`` becomes a float, a missing argument its default. The firewall must
    decide on that, not on what the model wrote. ``args`` come back unchanged when the
    schema is no pydantic v2 model, refuses them, or they hold an argument it does not
    declare (which it would drop), or are no JSON themselves (a non-string key, a
    datetime, which the JSON dump would quietly turn into text): the firewall then
    refuses them itself, and audits it.
    """
    schema = tool.tool_call_schema if tool is not None else None
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return args
    fields = schema.model_fields
    if any(name not in fields for name in args) or shape_problem(args, max_bytes=MAX_ARGS_BYTES):
        return args
    if not _is_json(args):
        return args
    try:
        parsed = schema.model_validate(args).model_dump(mode="json")
    except (ValidationError, PydanticSerializationError, TypeError, ValueError):
        return args
    return {name: value for name, value in parsed.items() if name in args or name not in _VARIADIC}


def _is_json(args: dict[str, Any]) -> bool:
    try:
        canonical_json(args)
    except (ValueError, TypeError):
        return False
    return True
