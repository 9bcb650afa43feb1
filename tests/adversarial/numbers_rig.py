"""A firewall to attack with numbers: real SQLite stores, the shipped or an echoing policy."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from firewall.containment.control import Containment
from firewall.containment.settings import BreakerSettings
from firewall.gate import Executed, Firewall
from firewall.policy.embedded import RegoEngine
from firewall.policy.engine import PolicyEngine
from firewall.settings import GateSettings
from firewall.totals import TotalRule
from firewall.totals.control import Totals
from firewall.types import Deny, Hold, Principal, Risk, ToolCall, ToolSpec
from tests.gate_helpers import make_rig

SHIPPED_POLICIES = Path(__file__).resolve().parents[2] / "policies" / "rego"

REFUND_SCHEMA: dict[str, Any] = {  # as pydantic writes it: no "additionalProperties"
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "amount": {"type": "number"},
        "reason": {"type": "string"},
    },
    "required": ["order_id", "amount"],
}
REFUND = ToolSpec(
    name="issue_refund",
    scope="refunds:write",
    risk=Risk.HIGH,
    money_arg="amount",
    args_schema=REFUND_SCHEMA,
)
ORDER_AMOUNTS = {"o-5000": 5000, "o-80": 80, "o-9000": 9000}

ECHO_POLICY = """
package firewall

import rego.v1

# Allow every call, and hand back the arguments exactly as the engine holds them.
decision := {
    "outcome": "allow",
    "reasons": [],
    "obligations": {"redact": [json.marshal(input.args)]},
}
"""
PROBE = ToolSpec(
    name="probe",
    scope="crm:read",
    args_schema={"type": "object", "additionalProperties": True},
)

AGENT = Principal(
    agent_id="support-bot",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write"}),
    on_behalf_of="customer:c-1",
    requested_by="bob",
)
PER_ORDER = TotalRule(name="refunded_per_order", tools=("issue_refund",), by="fact:order.id")
"""The running total the shipped refund policy needs (what is refunded per order)."""


def order_facts(call: ToolCall) -> Mapping[str, Any]:
    """The trusted order a refund refers to (tenant acme), or null if there is none."""
    order_id = call.args.get("order_id")
    amount = ORDER_AMOUNTS.get(order_id) if isinstance(order_id, str) else None
    order = (
        None
        if amount is None
        else {"id": order_id, "tenant": "acme", "amount": amount, "customer_id": "c-1"}
    )
    return {"order": order}


class Target:
    """A firewall and the arguments each tool run actually received."""

    def __init__(self, firewall: Firewall) -> None:
        self.firewall = firewall
        self.received: list[dict[str, Any]] = []

    def run(self, tool: str, **args: Any) -> Executed[str] | Deny | Hold:
        """Ask for one call in a fresh session; the tool records what it was handed."""
        call = ToolCall(tool=tool, args=args, principal=AGENT, session_id="s-1")

        def execute() -> str:
            self.received.append(self.firewall.restore_args(call))
            return "done"

        return self.firewall.run(call, execute)


def build_target(
    tmp_path: Path,
    *,
    policy_dir: Path = SHIPPED_POLICIES,
    engine: PolicyEngine | None = None,
    tools: tuple[ToolSpec, ...] = (REFUND,),
) -> Target:
    """A firewall whose held calls return at once, and that never freezes the attacker."""
    rig = make_rig(tmp_path)
    firewall = Firewall(
        tools=tools,
        policy=engine or RegoEngine(policy_dir),
        audit=rig.audit,
        approvals=rig.approvals,
        facts={"issue_refund": order_facts},
        settings=GateSettings(hold_mode="return"),
        containment=Containment(breaker=BreakerSettings(enabled=False), audit=rig.audit),
        totals=Totals([PER_ORDER]),
    )
    return Target(firewall)


def write_echo_policy(directory: Path) -> Path:
    """A policy directory holding only :data:`ECHO_POLICY`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "echo.rego").write_text(ECHO_POLICY, encoding="utf-8")
    return directory


def echoed_args(result: Executed[str]) -> Any:
    """The arguments as the policy engine held them (see :data:`ECHO_POLICY`)."""
    [text] = result.redact
    return json.loads(text)


def same_json(held: Any, given: Any) -> bool:
    """Equal as JSON values: the same numbers, not merely close ones (Rego's -0.0 is 0)."""
    if isinstance(given, bool) or isinstance(held, bool):
        return type(held) is type(given) and held == given
    if isinstance(given, int | float) and isinstance(held, int | float):
        return held == given
    if isinstance(given, dict) and isinstance(held, dict):
        return held.keys() == given.keys() and all(same_json(held[k], given[k]) for k in given)
    if isinstance(given, list | tuple) and isinstance(held, list):
        return len(held) == len(given) and all(map(same_json, held, given))
    return type(held) is type(given) and held == given
