"""Settings of containment: the ``[limits]``, ``[breaker]`` and ``[[budgets]]`` tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from firewall.types import DenyCode, Frozen, Per, ToolSpec, WindowText

MISBEHAVIOUR_CODES = frozenset(
    {
        DenyCode.INVALID_CALL,
        DenyCode.UNKNOWN_TOOL,
        DenyCode.INVALID_ARGS,
        DenyCode.MISSING_SCOPE,
        DenyCode.POLICY,
        DenyCode.RATE_LIMITED,
        DenyCode.BUDGET_EXCEEDED,
        DenyCode.APPROVAL_DENIED,
        DenyCode.APPROVAL_MISMATCH,
    }
)
"""Denials that say the agent misbehaves (not that the firewall's own stores failed)."""


class LimitSettings(Frozen):
    """How the limiter, budgets and kill switch reach their shared store, and fail."""

    fail_open_low_risk: bool = Field(
        default=False,
        description="Admit low-risk calls when the shared store is down (audited). "
        "Calls of risk medium and above always fail closed.",
    )
    key_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] = "firewall"
    timeout_s: Annotated[float, Field(gt=0, le=10)] = 0.5
    freeze_cache_s: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.5,
        description="How long a process trusts its copy of the freeze list to say 'not "
        "frozen' after the store answered (not after it failed; never for the last look "
        "before a high-risk or money-moving call, which reads the store).",
    )


class BreakerSettings(Frozen):
    """Freeze an agent automatically when it is denied too often."""

    enabled: bool = True
    max_denials: Annotated[int, Field(ge=1)] = 20
    window: WindowText = "1 minute"
    codes: frozenset[DenyCode] = MISBEHAVIOUR_CODES


class BudgetRule(Frozen):
    """At most ``amount`` (in money) of ``tool`` calls per ``per`` within a moving ``window``."""

    tool: str = "*"
    per: Per = "agent"
    amount: Annotated[Decimal, Field(ge=0, decimal_places=2)]
    window: WindowText

    def applies_to(self, spec: ToolSpec) -> bool:
        """Whether this rule counts calls of ``spec``'s tool (``*``: every tool moving money)."""
        return self.tool == spec.name or (self.tool == "*" and spec.money_arg is not None)
