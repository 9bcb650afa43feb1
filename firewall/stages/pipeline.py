"""The pipeline's stages in the order every call meets them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from firewall.containment.control import Containment
from firewall.pii.privacy import Privacy
from firewall.policy.engine import PolicyEngine
from firewall.registry import ToolRegistry
from firewall.session import SessionStore
from firewall.stages.base import Stage
from firewall.stages.budgets import BudgetCheck
from firewall.stages.freeze import FreezeCheck
from firewall.stages.limits import RateLimitCheck
from firewall.stages.personal import PersonalData
from firewall.stages.policy import FactsProvider, PolicyCheck
from firewall.stages.tools import KnownTool, ScopeCheck, ValidArgs
from firewall.stages.totals import TotalsCheck
from firewall.totals.control import Totals


def default_stages(
    tools: ToolRegistry,
    *,
    policy: PolicyEngine,
    containment: Containment,
    facts: Mapping[str, FactsProvider],
    clock: Callable[[], datetime],
    sessions: SessionStore | None = None,
    privacy: Privacy | None = None,
    totals: Totals | None = None,
) -> list[Stage]:
    """The pipeline, outermost first: kill switch, validate, tokens, scope, policy, totals,
    limits."""
    shared, outage = containment.storage_url, containment.outage
    privacy = privacy or Privacy(clock=clock)
    totals = totals or Totals()
    policy_check = PolicyCheck(policy, clock, facts, sessions, privacy, totals=totals)
    return [
        FreezeCheck(containment.freezes, tools, outage),
        KnownTool(tools),
        ValidArgs(tools),
        PersonalData(privacy),
        ScopeCheck(),
        policy_check,
        TotalsCheck(totals, decide=policy_check),
        RateLimitCheck(
            containment.rate_limits, shared, storage=containment.limiter_storage, outage=outage
        ),
        BudgetCheck(containment.budgets, containment.ledger, outage),
    ]
