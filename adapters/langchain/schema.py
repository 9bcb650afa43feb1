"""The JSON Schema of a LangChain tool's arguments, as the model sees them."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel


def args_json_schema(tool: BaseTool) -> dict[str, Any]:
    """``tool.tool_call_schema`` as JSON Schema (it may be a dict or a pydantic model)."""
    schema = tool.tool_call_schema
    if isinstance(schema, dict):
        return schema
    if issubclass(schema, BaseModel):
        return schema.model_json_schema()
    return dict(schema.schema())  # a pydantic v1 model
