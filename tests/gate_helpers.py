"""Builders for pipeline tests: a real Rego engine, real SQLite stores, a call log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.keyfiles import ensure_dev_key
from firewall.audit.records import AuditRecord
from firewall.audit.store import SqlAuditLog
from firewall.gate import Firewall, utc_now
from firewall.policy.embedded import RegoEngine
from firewall.session import SessionStore
from firewall.settings import GateSettings
from firewall.stages.limits import RateLimitRule
from firewall.types import Principal, Risk, ToolCall, ToolSpec

POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "deny", "reasons": ["no rule for this tool"]}

decision := {"outcome": "allow", "reasons": []} if input.tool.name == "lookup"

decision := {"outcome": "deny", "reasons": ["payments are closed today"]} if {
    input.tool.name == "pay"
}

decision := {
    "outcome": "hold",
    "reasons": ["refunds need a supervisor"],
    "obligations": {"approvers": "supervisors", "ttl_s": 60},
} if input.tool.name == "refund"
"""


def object_schema(**types: str) -> dict[str, Any]:
    """The JSON Schema of arguments ``name=type``, none required; any other is refused."""
    return {"type": "object", "properties": {name: {"type": kind} for name, kind in types.items()}}


TOOLS = (
    ToolSpec(
        name="lookup",
        scope="crm:read",
        args_schema={
            "type": "object",
            "properties": {"customer_id": {"type": "string"}},
            "required": ["customer_id"],
            "additionalProperties": False,
        },
    ),
    ToolSpec(
        name="refund",
        scope="refunds:write",
        risk=Risk.HIGH,
        money_arg="amount",
        args_schema=object_schema(
            customer_id="string", order_id="string", amount="number", reason="string"
        ),
    ),
    ToolSpec(
        name="pay",
        scope="payments:write",
        risk=Risk.CRITICAL,
        args_schema=object_schema(customer_id="string", amount="number"),
    ),
)

AGENT = Principal(
    agent_id="bot-1",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write", "payments:write"}),
    requested_by="bob",
)


def call(tool: str = "lookup", **args: Any) -> ToolCall:
    return ToolCall(
        tool=tool, args=args or {"customer_id": "c-1"}, principal=AGENT, session_id="s-1"
    )


@dataclass
class Rig:
    """A firewall on a temp dir, with handles on its stores."""

    firewall: Firewall
    audit: SqlAuditLog
    approvals: ApprovalService
    ran: list[str] = field(default_factory=list)

    def records(self, call_id: str | None = None) -> list[AuditRecord]:
        records = list(self.audit.records())
        return [r for r in records if call_id is None or r.call_id == call_id]

    def tool(self, name: str = "result") -> Callable[[], str]:
        def execute() -> str:
            self.ran.append(name)
            return name

        return execute


def make_rig(
    tmp_path: Path,
    *,
    policy: str = POLICY,
    rate_limits: tuple[RateLimitRule, ...] = (),
    settings: GateSettings | None = None,
    clock: Callable[[], datetime] = utc_now,
    tools: tuple[ToolSpec, ...] = TOOLS,
    sessions: SessionStore | None = None,
) -> Rig:
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir(exist_ok=True)
    (policy_dir / "decision.rego").write_text(policy, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'firewall.db'}"
    ensure_dev_key(tmp_path)
    audit = SqlAuditLog(url)
    approvals = ApprovalService(
        SqlApprovalStore(url), audit, {"supervisors": ["alice", "carol"]}, clock=clock
    )
    firewall = Firewall(
        tools=tools,
        policy=RegoEngine(policy_dir),
        audit=audit,
        approvals=approvals,
        rate_limits=rate_limits,
        settings=settings,
        clock=clock,
        sessions=sessions,
    )
    return Rig(firewall=firewall, audit=audit, approvals=approvals)
