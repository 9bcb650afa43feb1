"""The firewall the malformed-input tests attack: make_rig's stores, these tools and policy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from firewall.containment.control import Containment
from firewall.containment.settings import BreakerSettings
from firewall.gate import Executed, Firewall
from firewall.policy.engine import PolicyEngine
from firewall.session import SessionStore
from firewall.settings import GateSettings
from firewall.stages.policy import FactsProvider
from firewall.types import Principal, Risk, ToolCall, ToolSpec
from tests.gate_helpers import Rig, make_rig

POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "deny", "reasons": ["no rule for this tool"]}

decision := {"outcome": "allow", "reasons": []} if {
    input.tool.name in {"crm_lookup", "echo"}
    not input.context.facts.blocked
}

decision := {"outcome": "deny", "reasons": ["the customer is blocked"]} if {
    input.tool.name == "crm_lookup"
    input.context.facts.blocked
}

decision := {
    "outcome": "hold",
    "reasons": ["refunds need a supervisor"],
    "obligations": {"approvers": "supervisors", "ttl_s": 60},
} if input.tool.name == "refund"
"""

TOOLS = (
    ToolSpec(
        name="crm_lookup",
        scope="crm:read",
        subject_arg="customer_id",
        args_schema={
            "type": "object",
            "properties": {"customer_id": {"type": "string"}},
            "required": ["customer_id"],
            "additionalProperties": False,
        },
    ),
    ToolSpec(  # takes any argument: its schema says so
        name="echo", scope="crm:read", args_schema={"type": "object", "additionalProperties": True}
    ),
    ToolSpec(
        name="refund",
        scope="refunds:write",
        risk=Risk.HIGH,
        money_arg="amount",
        args_schema={
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "amount": {"type": "number"},
                "meta": {"type": "object"},
            },
            "required": ["order_id", "amount"],
        },
    ),
)

AGENT = Principal(
    agent_id="support-bot",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write"}),
    requested_by="bob",
)


def call(tool: str = "crm_lookup", *, principal: Principal = AGENT, **args: Any) -> ToolCall:
    """A call of ``tool`` by the support agent in session ``s-1``."""
    return ToolCall(tool=tool, args=args, principal=principal, session_id="s-1")


def normal_call() -> ToolCall:
    """The well-formed call that must still run after any malformed one."""
    return call(customer_id="c-1")


def build_rig(
    tmp_path: Path,
    *,
    policy: PolicyEngine | None = None,
    facts: Mapping[str, FactsProvider] | None = None,
    tools: tuple[ToolSpec, ...] = TOOLS,
    settings: GateSettings | None = None,
    breaker: bool = True,
    sessions: SessionStore | None = None,
) -> Rig:
    """make_rig's SQLite stores and Rego policy; optionally another policy, facts, sessions."""
    rig = make_rig(tmp_path, policy=POLICY, tools=tools, settings=settings)
    audit = rig.audit
    rig.firewall = Firewall(
        tools=tools,
        policy=policy or rig.firewall.policy,
        audit=audit,
        approvals=rig.approvals,
        facts=facts,
        settings=settings,
        containment=Containment(breaker=BreakerSettings(enabled=breaker), audit=audit),
        sessions=sessions,
    )
    return rig


def runs_normally(rig: Rig) -> bool:
    """Whether a well-formed call is still allowed and runs (the firewall stayed healthy)."""
    before = len(rig.ran)
    result = rig.firewall.run(normal_call(), rig.tool("normal"))
    return isinstance(result, Executed) and rig.ran[before:] == ["normal"]
