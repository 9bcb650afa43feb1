"""The circuit breaker: an agent denied too often within a window is frozen everywhere.

Denials are counted with ``limits`` (a moving window) in the shared limiter storage,
so every worker's denials of one agent add up.
"""

from __future__ import annotations

from collections.abc import Callable

import limits
import structlog
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter

from firewall.containment.freeze import CachedFreezes, FreezeEntry
from firewall.containment.settings import BreakerSettings
from firewall.identity import identity_key
from firewall.stages.naming import quoted
from firewall.types import Deny, ToolCall

log = structlog.get_logger("firewall.containment")

FreezeHook = Callable[[FreezeEntry], None]


class CircuitBreaker:
    """Count an agent's misbehaviour denials; freeze it when they pass ``max_denials``."""

    def __init__(
        self,
        settings: BreakerSettings,
        storage: Storage,
        freezes: CachedFreezes,
        on_freeze: FreezeHook,
    ) -> None:
        self.settings = settings
        self._item = limits.parse(f"{settings.max_denials}/{settings.window}")
        self._limiter = MovingWindowRateLimiter(storage)
        self._freezes = freezes
        self._on_freeze = on_freeze

    def reset(self, agent_id: str) -> None:
        """Forget ``agent_id``'s counted denials (after an operator lifts its freeze)."""
        self._limiter.clear(self._item, "breaker", identity_key(agent_id))

    def record(self, call: ToolCall, denial: Deny) -> FreezeEntry | None:
        """Count ``denial``; return the new freeze if this one tripped the breaker."""
        if not self.settings.enabled or denial.code not in self.settings.codes:
            return None
        agent = call.principal.agent_id
        if self._limiter.hit(self._item, "breaker", identity_key(agent)):  # Bot-1 is bot-1
            return None
        entry = FreezeEntry(
            target=f"agent:{agent}",
            reason=(
                f"more than {self.settings.max_denials} denied calls within"
                f" {self.settings.window} (last: {denial.code.value} of {quoted(call.tool)})"
            ),
            by="circuit-breaker",
            automatic=True,
        )
        if not self._freezes.freeze(entry, overwrite=False):
            return None
        log.warning("agent_auto_frozen", agent_id=agent, reason=entry.reason)
        self._on_freeze(entry)
        return entry
