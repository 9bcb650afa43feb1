"""Rate limits with the ``limits`` library: memory by default, Redis when workers share.

Rules come from the config (``[[rate_limits]]``) and from the policy's obligations
(``obligations.rate_limits``, counted per tool). A denial names the rule and when to
retry; a limiter that cannot answer fails closed (see :class:`OutagePolicy`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

import limits
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import STRATEGIES, RateLimiter

from firewall.canonical import digest
from firewall.containment.outage import OutagePolicy
from firewall.containment.stores import describe_url
from firewall.identity import identity_key
from firewall.stages.base import CallContext
from firewall.types import Deny, DenyCode, Frozen, LimitText, Per, Principal, ToolCall

Strategy = Literal["moving-window", "sliding-window-counter", "fixed-window"]
EXPIRY_INTERVAL_S = 1.0


def expire_inline(storage: object, interval_s: float = EXPIRY_INTERVAL_S) -> None:
    """Make a ``MemoryStorage`` expire its old entries in the caller's thread.

    ``limits`` (5.x) starts a ``threading.Timer`` for that whenever the previous one has
    finished, 10 ms after it started: at an agent's pace (calls more than 10 ms apart)
    that is a new thread, about 0.2 ms, on every call. Here the same expiry runs inline,
    at most every ``interval_s``. Other storages (Redis) are left as they are.
    """
    expire: Callable[[], None] | None = getattr(storage, "_MemoryStorage__expire_events", None)
    if not isinstance(storage, MemoryStorage) or expire is None:
        return
    lock = threading.Lock()
    due = [time.monotonic() + interval_s]

    def schedule_expiry() -> None:
        now = time.monotonic()
        if now < due[0] or not lock.acquire(blocking=False):
            return
        try:
            due[0] = now + interval_s
            expire()
        finally:
            lock.release()

    storage._MemoryStorage__schedule_expiry = schedule_expiry  # type: ignore[attr-defined]


def subject_of(per: Per, principal: Principal) -> str:
    """Who shares a bucket: ``agent=bot-1``, ``tenant=acme``, ``customer=…`` or ``global=*``.

    Names are keyed by :func:`~firewall.identity.identity_key`: ``Bot-1`` gets no bucket
    of its own beside ``bot-1``.
    """
    subject = {
        "agent": identity_key(principal.agent_id),
        "tenant": identity_key(principal.tenant),
        "customer": identity_key(principal.on_behalf_of) if principal.on_behalf_of else "-",
        "global": "*",
    }[per]
    return f"{per}={subject}"


class RateLimitRule(Frozen):
    """``limit`` calls (limits notation, e.g. ``5/minute``) of ``tool`` per ``per``."""

    tool: str = "*"
    per: Per = "agent"
    limit: LimitText
    strategy: Strategy = "moving-window"

    def applies_to(self, tool: str) -> bool:
        """Whether this rule counts calls of ``tool``."""
        return self.tool in ("*", tool)

    def key(self, call: ToolCall) -> str:
        """The bucket this call counts against."""
        return subject_of(self.per, call.principal)

    def describe(self) -> str:
        """Human-readable rule, used in denials."""
        return f"{self.limit} per {self.per} for tool {self.tool!r}"

    def namespace(self) -> str:
        """A stable counter name: the same rule shares its counters across processes."""
        return "rl:" + digest(self.model_dump(mode="json"))[7:23]


class _Bound:
    def __init__(self, rule: RateLimitRule, source: str, limiter: RateLimiter) -> None:
        self.rule = rule
        self.source = source
        self.item = limits.parse(rule.limit)
        self.limiter = limiter
        self.namespace = rule.namespace()

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

    def __init__(
        self,
        rules: Iterable[RateLimitRule],
        storage_url: str = "memory://",
        *,
        storage: Storage | None = None,
        outage: OutagePolicy | None = None,
    ) -> None:
        self._storage = storage or storage_from_string(storage_url)
        expire_inline(self._storage)
        self._where = describe_url(storage_url)
        self._outage = outage or OutagePolicy()
        self._limiters: dict[str, RateLimiter] = {}
        self._rules = [
            _Bound(rule, f"rate_limits[{i}]", self._limiter(rule.strategy))
            for i, rule in enumerate(rules)
        ]

    def check(self, ctx: CallContext) -> Deny | None:
        for bound in self._applicable(ctx):
            try:
                retry_after = bound.hit(ctx.call)
            except Exception as exc:  # noqa: BLE001 - the limiter cannot answer: fail closed
                risk = ctx.spec.risk if ctx.spec else None
                return self._outage.refusal(ctx, "rate limiter", self._where, exc, risk)
            if retry_after is not None:
                return ctx.deny(
                    DenyCode.RATE_LIMITED,
                    f"rate limit exceeded: {bound.source} ({bound.rule.describe()})",
                    retry_after_s=retry_after,
                )
        return None

    def _applicable(self, ctx: CallContext) -> Iterator[_Bound]:
        tool = ctx.call.tool
        yield from (bound for bound in self._rules if bound.rule.applies_to(tool))
        if ctx.policy is None:
            return
        for i, obligation in enumerate(ctx.policy.obligations.rate_limits):
            rule = RateLimitRule(tool=tool, per=obligation.per, limit=obligation.limit)
            yield _Bound(rule, f"policy obligation rate_limits[{i}]", self._limiter(rule.strategy))

    def _limiter(self, strategy: Strategy) -> RateLimiter:
        if strategy not in self._limiters:
            self._limiters[strategy] = STRATEGIES[strategy](self._storage)
        return self._limiters[strategy]
