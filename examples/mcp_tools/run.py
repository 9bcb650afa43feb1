"""Guard the tools of an MCP server: load them with langchain-mcp-adapters, wrap, call.

    python -m firewall.examples.mcp_tools.run [data_dir]

Starts the orders MCP server (stdio) as a child process, loads its tools, declares their
argument schemas to the firewall from the MCP tool list, and makes three calls as an
agent would: a customer lookup (runs), a small refund (runs), a large one (held for a
supervisor: it does not reach the server).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from firewall.adapters.langchain import guard_tools
from langchain_core.tools import BaseTool
from langchain_mcp_adapters.sessions import StdioConnection, create_session
from langchain_mcp_adapters.tools import load_mcp_tools

from firewall.config import FirewallConfig, load_config
from firewall.errors import ConfigError
from firewall.factory import build_firewall
from firewall.gate import Firewall
from firewall.types import Principal, ToolCall

HERE = Path(__file__).parent
SERVER = HERE / "orders_server.py"
PRINCIPAL = Principal(
    agent_id="orders-bot",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write"}),
    on_behalf_of="customer:c-100",
    requested_by="bob",
)
ORDERS = {
    "o-1001": {"tenant": "acme", "customer": "c-100", "amount": 120.0},
    "o-1002": {"tenant": "acme", "customer": "c-100", "amount": 8400.0},
}
CUSTOMERS = {"c-100": {"tenant": "acme"}}
CALLS = (
    ("crm_lookup", {"customer_id": "c-100"}),
    ("issue_refund", {"order_id": "o-1001", "amount": 40.0, "reason": "late delivery"}),
    ("issue_refund", {"order_id": "o-1002", "amount": 900.0, "reason": "damaged"}),
)


def customer_facts(call: ToolCall) -> dict[str, Any]:
    """The trusted tenant of the customer a lookup reads (``input.context.facts.customer``)."""
    customer = CUSTOMERS.get(str(call.args.get("customer_id")))
    return {} if customer is None else {"customer": {"id": call.args["customer_id"], **customer}}


def order_facts(call: ToolCall) -> dict[str, Any]:
    """The trusted order a refund refers to (the policy's ``input.context.facts.order``)."""
    order = ORDERS.get(str(call.args.get("order_id")))
    return {} if order is None else {"order": {"id": call.args["order_id"], **order}}


FACTS = {"crm_lookup": customer_facts, "issue_refund": order_facts}


def example_config(data_dir: Path) -> FirewallConfig:
    """The example's config with its stores in ``data_dir``."""
    config = load_config(HERE / "firewall.toml")
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(data_dir / 'mcp.db').resolve()}"
    return config.model_copy(update={"storage": config.storage.model_copy(update={"url": url})})


def server_connection(env: Mapping[str, str] | None = None) -> StdioConnection:
    """How to start the orders server: this Python, over stdio."""
    return StdioConnection(
        transport="stdio", command=sys.executable, args=[str(SERVER)], env=dict(env or {})
    )


@asynccontextmanager
async def guarded_tools(
    firewall: Firewall, connection: StdioConnection, session_id: str
) -> AsyncIterator[list[BaseTool]]:
    """The MCP server's tools, each call through ``firewall``, for one conversation."""
    refused: ConfigError | None = None
    async with create_session(connection) as session:
        await session.initialize()
        try:
            guarded = guard_tools(
                await load_mcp_tools(session), firewall, PRINCIPAL, session_id=session_id
            )
        except ConfigError as exc:  # raised here it would reach the caller in an ExceptionGroup
            refused = exc
        else:
            yield guarded
    if refused is not None:
        raise refused


async def call_each(tools: list[BaseTool]) -> list[str]:
    """Make the example's calls; what each answered (the firewall's refusal included)."""
    by_name = {tool.name: tool for tool in tools}
    answers = []
    for name, args in CALLS:
        answer = await by_name[name].ainvoke({**args})
        answers.append(f"{name}({args}) -> {answer}")
    return answers


async def main(data_dir: Path) -> list[str]:
    """Run the example; the lines it prints."""
    firewall = build_firewall(example_config(data_dir), facts=FACTS)
    try:
        async with guarded_tools(firewall, server_connection(), "ticket-4711") as tools:
            return await call_each(tools)
    finally:
        firewall.close()


if __name__ == "__main__":
    for line in asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".firewall"))):
        print(line)
