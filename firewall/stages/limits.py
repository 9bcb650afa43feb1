"""Rate limits with the ``limits`` library: memory by default, Redis when workers share."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Annotated, Literal

import limits
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES, RateLimiter
from pydantic import AfterValidator

from firewall.stages.base import CallContext
from firewall.types import Deny, DenyCode, Frozen, ToolCall


def _parses(text: str) -> str:
    limits.parse(text)  # raises ValueError naming what it could not read
    return text


class RateLimitRule(Frozen):
    """``limit`` calls (limits notation, e.g. ``5/minute``) of ``tool`` per ``per``."""

    tool: str = "*"
    per: Literal["agent", "tenant", "customer", "global"] = "agent"
    limit: Annotated[str, AfterValidator(_parses)]
    strategy: Literal["moving-window", "sliding-window-counter", "fixed-window"] = "moving-window"

    def applies_to(self, tool: str) -> bool:
        """Whether this rule counts calls of ``tool``."""
        return self.tool in ("*", tool)

    def key(self, call: ToolCall) -> str:
        """The bucket this call counts against."""
        principal = call.principal
        subject = {
            "agent": principal.agent_id,
            "tenant": principal.tenant,
            "customer": principal.on_behalf_of or "-",
            "global": "*",
        }[self.per]
        return f"{self.per}={subject}"

    def describe(self) -> str:
        """Human-readable rule, used in denials."""
        return f"{self.limit} per {self.per} for tool {self.tool!r}"


class _BoundRule:
    def __init__(self, rule: RateLimitRule, index: int, storage_url: str) -> None:
        self.rule = rule
        self.item = limits.parse(rule.limit)
        self.namespace = f"rule{index}"
        self.limiter: RateLimiter = STRATEGIES[rule.strategy](storage_from_string(storage_url))

    def hit(self, call: ToolCall) -> float | None:
        """Count the call; ``None`` if admitted, else seconds until it may be retried."""
        keys = (self.namespace, call.tool, self.rule.key(call))
        if self.limiter.hit(self.item, *keys):
            return None
        reset = self.limiter.get_window_stats(self.item, *keys).reset_time
        return max(0.0, reset - time.time())


class RateLimitCheck:
    """Deny a call that would exceed any applicable rule; a limiter failure is a deny."""

    name = "rate_limit"

    def __init__(self, rules: Iterable[RateLimitRule], storage_url: str = "memory://") -> None:
        self._rules = [_BoundRule(rule, i, storage_url) for i, rule in enumerate(rules)]

    def check(self, ctx: CallContext) -> Deny | None:
        for bound in self._rules:
            if not bound.rule.applies_to(ctx.call.tool):
                continue
            try:
                retry_after = bound.hit(ctx.call)
            except Exception as exc:  # noqa: BLE001 - the limiter cannot answer: fail closed
                return ctx.deny(
                    DenyCode.LIMITER_ERROR,
                    f"rate limiter unavailable ({type(exc).__name__}); call refused",
                )
            if retry_after is not None:
                return ctx.deny(
                    DenyCode.RATE_LIMITED,
                    f"rate limit exceeded: {bound.rule.describe()}",
                    retry_after_s=retry_after,
                )
        return None
