"""A firewall with a vault, budgets and a kill switch, on the stores of ``make_rig``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from firewall.audit.keyfiles import ensure_dev_key
from firewall.containment.control import Containment
from firewall.containment.settings import BreakerSettings, BudgetRule, LimitSettings
from firewall.credentials.secrets import EnvSecrets
from firewall.credentials.vault import CredentialSpec, CredentialVault
from firewall.gate import Firewall, utc_now
from firewall.settings import GateSettings
from firewall.stages.limits import RateLimitRule
from firewall.types import Principal, ToolCall
from tests.gate_helpers import TOOLS, Rig, make_rig

POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "deny", "reasons": ["no rule for this tool"]}

decision := {"outcome": "allow", "reasons": []} if input.tool.name == "lookup"

decision := {"outcome": "allow", "reasons": []} if {
    input.tool.name == "refund"
    input.args.amount <= 100
}

decision := {
    "outcome": "hold",
    "reasons": ["refunds above 100 need a supervisor"],
    "obligations": {"approvers": "supervisors", "ttl_s": 60},
} if {
    input.tool.name == "refund"
    input.args.amount > 100
}

decision := {"outcome": "deny", "reasons": ["payments are closed today"]} if {
    input.tool.name == "pay"
}
"""

CRM_SECRET = "crm-secret-4c2f9e61"
PAY_SECRET = "pay-secret-0b7d3a58"
CREDENTIALS = {"lookup": "crm", "refund": "payments"}
SPECS = tuple(spec.model_copy(update={"credential": CREDENTIALS.get(spec.name)}) for spec in TOOLS)
AGENT = Principal(
    agent_id="bot-1",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write", "payments:write"}),
    on_behalf_of="customer:c-1",
    requested_by="bob",
)
REFUND_BUDGET = BudgetRule(tool="refund", per="agent", amount=Decimal(300), window="1 hour")


def call(tool: str = "lookup", **args: Any) -> ToolCall:
    """A call of ``tool`` by the rig's agent (lookup defaults to customer c-1)."""
    return ToolCall(
        tool=tool, args=args or {"customer_id": "c-1"}, principal=AGENT, session_id="s-1"
    )


def vault(environ: dict[str, str] | None = None) -> CredentialVault:
    """A vault with the CRM and payment secrets in a private environment."""
    secrets = {"CRM": CRM_SECRET, "PAY": PAY_SECRET} if environ is None else environ
    return CredentialVault(
        {"crm": CredentialSpec(secret="env:CRM"), "payments": CredentialSpec(secret="env:PAY")},
        providers={"env": EnvSecrets(secrets)},
    )


@dataclass
class Contained:
    """What containment tests need: the rig, its containment, and what the tools saw."""

    rig: Rig
    containment: Containment
    seen: list[str]

    @property
    def firewall(self) -> Firewall:
        return self.rig.firewall


def contained_rig(
    tmp_path: Path,
    *,
    storage_url: str = "memory://",
    budgets: tuple[BudgetRule, ...] = (REFUND_BUDGET,),
    rate_limits: tuple[RateLimitRule, ...] = (),
    limits: LimitSettings | None = None,
    breaker: BreakerSettings | None = None,
    credentials: CredentialVault | None = None,
    settings: GateSettings | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Contained:
    """``make_rig``'s stores and approvals behind a firewall with containment and a vault."""
    ensure_dev_key(tmp_path)  # the audit log's signing key, next to the rig's database
    base = make_rig(tmp_path, policy=POLICY, settings=settings, clock=clock)
    containment = Containment(
        storage_url=storage_url,
        rate_limits=rate_limits,
        budgets=budgets,
        settings=limits,
        breaker=breaker,
        audit=base.audit,
    )
    firewall = Firewall(
        tools=SPECS,
        policy=base.firewall.policy,
        audit=base.audit,
        approvals=base.approvals,
        containment=containment,
        vault=credentials or vault(),
        settings=settings,
        clock=clock,
    )
    rig = Rig(firewall=firewall, audit=base.audit, approvals=base.approvals)
    return Contained(rig=rig, containment=containment, seen=rig.ran)
