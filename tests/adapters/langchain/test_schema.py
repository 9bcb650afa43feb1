"""A LangChain tool's arguments as its own schema reads them: what the firewall decides on."""

from __future__ import annotations

from typing import Any

import pytest
from firewall.adapters.langchain.schema import parsed_args
from langchain_core.tools import BaseTool, StructuredTool, tool
from pydantic import BaseModel


@tool
def refund(order_id: str, amount: float, reason: str = "goodwill") -> str:
    """Refund an order."""
    return f"{order_id} {amount} {reason}"


class Line(BaseModel):
    sku: str
    quantity: int = 1


@tool
def order(lines: list[Line]) -> str:
    """Place an order."""
    return str(lines)


def test_text_and_integers_become_the_floats_the_tool_gets() -> None:
    assert parsed_args(refund, {"order_id": "o", "amount": "100.5"}) == {
        "order_id": "o",
        "amount": 100.5,
        "reason": "goodwill",
    }
    assert parsed_args(refund, {"order_id": "o", "amount": 7})["amount"] == 7.0


def test_nested_models_come_back_as_json_with_their_defaults() -> None:
    assert parsed_args(order, {"lines": [{"sku": "a"}]}) == {"lines": [{"sku": "a", "quantity": 1}]}


@pytest.mark.parametrize(
    "args",
    [
        {"order_id": "o", "amount": 50, "amount_cents": 900000},  # the schema would drop it
        {"order_id": "o", "amount": "lots"},  # the schema refuses it
        {"order_id": "o"},  # a required argument is missing
    ],
)
def test_arguments_the_schema_drops_or_refuses_come_back_as_written(args: dict[str, Any]) -> None:
    """The firewall then refuses them itself, and audits the refusal."""
    assert parsed_args(refund, args) == args


def test_a_tool_with_a_json_schema_or_none_is_left_alone() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number"}}}
    json_tool: BaseTool = StructuredTool(
        name="x", description="x", args_schema=schema, func=lambda **kw: "x"
    )
    assert parsed_args(json_tool, {"x": "1"}) == {"x": "1"}
    assert parsed_args(None, {"x": "1"}) == {"x": "1"}
