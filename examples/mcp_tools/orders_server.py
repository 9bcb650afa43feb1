"""An MCP server (stdio) with a CRM's and an orders service's tools, unaware of any firewall.

Run by the MCP client as ``python -m firewall.examples.mcp_tools.orders_server``. Every
tool that runs appends one JSON line to the file named by ``ORDERS_LEDGER`` (if set), so
a test can see what really ran on the server side.
"""

from __future__ import annotations

import json
import os

from mcp.server.fastmcp import FastMCP

CUSTOMERS = {"c-100": {"name": "Dana Reyes", "plan": "pro"}}
ORDERS = {
    "o-1001": {"customer": "c-100", "amount": 120.0, "status": "delivered"},
    "o-1002": {"customer": "c-100", "amount": 8400.0, "status": "delivered"},
}

server = FastMCP("orders")


def _record(tool: str, **args: object) -> None:
    ledger = os.environ.get("ORDERS_LEDGER")
    if ledger:
        with open(ledger, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"tool": tool, "args": args}) + "\n")


@server.tool()
def crm_lookup(customer_id: str) -> str:
    """A customer's record and orders."""
    _record("crm_lookup", customer_id=customer_id)
    customer = CUSTOMERS.get(customer_id)
    if customer is None:
        return f"no customer {customer_id}"
    orders = [
        f"{oid} ({o['amount']:.2f}, {o['status']})"
        for oid, o in ORDERS.items()
        if o["customer"] == customer_id
    ]
    return f"{customer['name']} ({customer['plan']}); orders: {', '.join(orders)}"


@server.tool()
def issue_refund(order_id: str, amount: float, reason: str) -> str:
    """Refund (part of) an order."""
    _record("issue_refund", order_id=order_id, amount=amount, reason=reason)
    return f"refunded {amount:.2f} on {order_id}"


if __name__ == "__main__":
    server.run("stdio")
