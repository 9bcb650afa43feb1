"""In-memory CRM, order and payment backends, their LangChain tools and trusted facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool, tool

from firewall.stages.policy import FactsProvider
from firewall.types import ToolCall


@dataclass
class Backends:
    """The services the agent's tools act on (seeded with two tenants' data)."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    charges: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def seeded(cls) -> Backends:
        """Customers and orders of tenants ``acme`` and ``globex``."""
        return cls(
            customers={
                "c-100": {"tenant": "acme", "name": "Ada Lovelace", "email": "ada@example.com"},
                "c-101": {"tenant": "acme", "name": "Alan Turing", "email": "alan@example.com"},
                "c-900": {"tenant": "globex", "name": "Grace Hopper", "email": "grace@example.org"},
            },
            orders={
                "o-1": {"tenant": "acme", "customer_id": "c-100", "amount": 80.0},
                "o-2": {"tenant": "acme", "customer_id": "c-100", "amount": 1200.0},
                "o-9": {"tenant": "globex", "customer_id": "c-900", "amount": 300.0},
            },
        )

    def facts(self) -> Mapping[str, FactsProvider]:
        """Trusted lookups the policy sees as ``input.context.facts``."""
        return {
            "crm_lookup": self._customer_facts,
            "charge_card": self._customer_facts,
            "issue_refund": self._order_facts,
        }

    def _customer_facts(self, call: ToolCall) -> dict[str, Any]:
        customer = self.customers.get(str(call.args.get("customer_id")))
        if customer is None:
            return {}
        return {"customer": {"id": call.args["customer_id"], "tenant": customer["tenant"]}}

    def _order_facts(self, call: ToolCall) -> dict[str, Any]:
        order = self.orders.get(str(call.args.get("order_id")))
        if order is None:
            return {}
        return {"order": {"id": call.args["order_id"], **order}}

    def tools(self) -> list[BaseTool]:
        """The agent's LangChain tools, unaware of the firewall."""
        backends = self

        @tool
        def crm_lookup(customer_id: str) -> dict[str, Any]:
            """Look up a customer record in the CRM."""
            return {"customer_id": customer_id, **backends.customers[customer_id]}

        @tool
        def issue_refund(order_id: str, amount: float, reason: str) -> str:
            """Refund part or all of an order to the customer's original payment method."""
            backends.refunds.append({"order_id": order_id, "amount": amount, "reason": reason})
            return f"refunded {amount:.2f} on order {order_id}"

        @tool
        def charge_card(customer_id: str, amount: float, description: str) -> str:
            """Charge the customer's card on file."""
            backends.charges.append({"customer_id": customer_id, "amount": amount})
            return f"charged {amount:.2f} to {customer_id}: {description}"

        return [crm_lookup, issue_refund, charge_card]
