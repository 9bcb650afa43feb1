"""The load test's world: its firewall config, trusted facts, and each worker's call plan.

Every worker makes the same mix of calls, in slots of 20:

=========  =====  ==============================================  ===========================
slots      kind   call                                            expected final decision
=========  =====  ==============================================  ===========================
0-7        own    ``crm_lookup`` of a fresh own-tenant customer    allow
8-9        hot    ``crm_lookup`` of the one shared hot customer    allow 50 in all, then deny
10-11      other  ``crm_lookup`` of another tenant's customer      deny (policy)
12-17      small  $10 refund for the one shared customer           allow $2,000 in all, then deny
18         held   $150 refund (above the $100 auto-approve limit)  hold, approved, allow
19         held   $150, or $160 in every other slot-group          hold; $160 is denied
=========  =====  ==============================================  ===========================

The hot customer's rate limit (50/hour) and the shared customer's budget ($2,000/day) live
in Redis, so all workers race for them; the policy is the shipped ``policies/rego``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from firewall.config import FirewallConfig, parse_config
from firewall.containment.settings import BudgetRule
from firewall.stages.policy import FactsProvider
from firewall.types import Principal, ToolCall

REPO = Path(__file__).parents[2]
TENANT = "acme"
OTHER_TENANT = "globex"
APPROVER = "alice"
HOT_CUSTOMER = "acme-hot"
SHARED_CUSTOMER = "acme-shared"
HOT_LIMIT = 50
SMALL_REFUND = Decimal(10)
APPROVED_REFUND = Decimal(150)
DENIED_REFUND = Decimal(160)
ORDER_AMOUNT = 1000
CUSTOMER_BUDGET = BudgetRule(tool="issue_refund", per="customer", amount=2000, window="1 day")
TENANT_BUDGET = BudgetRule(tool="issue_refund", per="tenant", amount=500_000, window="1 day")
HOLD_TTL_S = 120
SLOTS = ("own",) * 8 + ("hot",) * 2 + ("other",) * 2 + ("small",) * 6 + ("held",) * 2


@dataclass(frozen=True)
class LoadSetup:
    """What every process of one run shares: where the stores are, and its namespace."""

    postgres_url: str
    redis_url: str
    prefix: str
    key_file: Path
    out_dir: Path

    @property
    def notify_prefix(self) -> str:
        """The pub/sub channel prefix of this run's hold notifications."""
        return f"{self.prefix}:holds"


@dataclass(frozen=True)
class PlannedCall:
    """One call of a worker's plan, with its kind (see the module docstring)."""

    kind: str
    call: ToolCall

    @property
    def amount(self) -> Decimal:
        """The refund amount (0 for a lookup)."""
        return Decimal(str(self.call.args.get("amount", 0)))


def firewall_config(setup: LoadSetup) -> FirewallConfig:
    """The firewall of the run: shipped policy, PostgreSQL audit and holds, Redis limits."""
    return parse_config(
        {
            "policy": {"engine": "embedded", "dir": str(REPO / "policies" / "rego")},
            "storage": {"url": setup.postgres_url, "limits_url": setup.redis_url},
            "holds": {"hold_mode": "wait", "hold_ttl_s": HOLD_TTL_S},
            # Generous timeouts: a shared 2-core box under load is slow, not broken.
            "limits": {"key_prefix": setup.prefix, "timeout_s": 5},
            # Many denials are the point here; an automatic freeze would end the mix.
            "breaker": {"enabled": False},
            "audit": {"key_file": str(setup.key_file)},
            "approvers": {"supervisors": [APPROVER]},
            "tools": [
                {
                    "name": "crm_lookup",
                    "scope": "crm:read",
                    "risk": "low",
                    "personal_args": ["customer_id"],
                    "subject_arg": "customer_id",
                    "args_schema": {"type": "object", "properties": {"customer_id": {}}},
                },
                {
                    "name": "issue_refund",
                    "scope": "refunds:write",
                    "risk": "high",
                    "money_arg": "amount",
                    "args_schema": {
                        "type": "object",
                        "properties": {"order_id": {}, "amount": {}},
                    },
                },
            ],
            "rate_limits": [
                {"tool": "crm_lookup", "per": "customer", "limit": f"{HOT_LIMIT}/hour"}
            ],
            "budgets": [
                CUSTOMER_BUDGET.model_dump(mode="json"),
                TENANT_BUDGET.model_dump(mode="json"),
            ],
        }
    )


def facts() -> Mapping[str, FactsProvider]:
    """Trusted lookups: a customer or order id names its tenant (``acme-…``, ``o-globex-…``)."""
    return {"crm_lookup": _customer_facts, "issue_refund": _order_facts}


def _customer_facts(call: ToolCall) -> dict[str, Any]:
    customer_id = str(call.args["customer_id"])
    return {"customer": {"id": customer_id, "tenant": customer_id.split("-", maxsplit=1)[0]}}


def _order_facts(call: ToolCall) -> dict[str, Any]:
    order_id = str(call.args["order_id"])
    tenant = order_id.split("-")[1]
    return {"order": {"id": order_id, "tenant": tenant, "amount": ORDER_AMOUNT}}


def agent(worker: int, customer: str) -> Principal:
    """Worker ``worker``'s agent, acting for ``customer``."""
    return Principal(
        agent_id=f"agent-{worker}",
        tenant=TENANT,
        scopes=frozenset({"crm:read", "refunds:write"}),
        on_behalf_of=f"customer:{customer}",
        requested_by=f"operator-{worker}",
    )


def plan(worker: int, calls: int) -> list[PlannedCall]:
    """Worker ``worker``'s ``calls`` calls, in order."""
    return [_planned(worker, n) for n in range(calls)]


def _planned(worker: int, n: int) -> PlannedCall:
    kind = SLOTS[n % len(SLOTS)]
    tag = f"w{worker}-{n:04d}"
    if kind in ("own", "hot", "other"):
        customer = {"own": f"{TENANT}-{tag}", "hot": HOT_CUSTOMER}.get(kind)
        customer = customer or f"{OTHER_TENANT}-{tag}"
        return PlannedCall(kind, _call(tag, "crm_lookup", {"customer_id": customer}, worker))
    if kind == "small":
        args = {"order_id": f"o-{TENANT}-{tag}", "amount": float(SMALL_REFUND)}
        return PlannedCall(kind, _call(tag, "issue_refund", args, worker, SHARED_CUSTOMER))
    denied = n % len(SLOTS) == len(SLOTS) - 1 and (n // len(SLOTS)) % 2 == 0
    amount = DENIED_REFUND if denied else APPROVED_REFUND
    args = {"order_id": f"o-{TENANT}-{tag}", "amount": float(amount)}
    return PlannedCall(kind, _call(tag, "issue_refund", args, worker, f"{TENANT}-{tag}"))


def _call(
    tag: str, tool: str, args: dict[str, Any], worker: int, customer: str | None = None
) -> ToolCall:
    # A session per call: the session rules (one customer per session) are not under test.
    owner = customer or str(args["customer_id"])
    return ToolCall(
        tool=tool, args=args, principal=agent(worker, owner), session_id=tag, call_id=f"call-{tag}"
    )


def approver_verdict(amount: Decimal) -> str:
    """What the scripted supervisor does with a held refund of ``amount``."""
    return "deny" if amount == DENIED_REFUND else "approve"
