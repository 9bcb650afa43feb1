"""The kill-switch stage, first in the pipeline: a frozen agent or tenant runs nothing.

The gate runs a second instance as the *last look* right before a tool starts; for a
high-risk or money-moving tool that look reads the freeze store itself, never the
process's cached copy (see :func:`reads_through`).
"""

from __future__ import annotations

from collections.abc import Mapping

from firewall.containment.freeze import CachedFreezes
from firewall.containment.outage import OutagePolicy
from firewall.stages.base import CallContext
from firewall.types import Deny, DenyCode, Risk, ToolSpec


def reads_through(spec: ToolSpec | None) -> bool:
    """Whether the last look before ``spec``'s tool runs must ask the freeze store itself.

    A high-risk or money-moving tool (or one not known) never runs on a cached "not
    frozen": the copy may predate a freeze, or an outage that began since it was read.
    """
    if spec is None:
        return True
    return spec.risk in (Risk.HIGH, Risk.CRITICAL) or spec.money_arg is not None


class FreezeCheck:
    """Deny every call of a frozen agent or tenant (or all calls); fail closed on outage.

    ``last_look``: this is the look right before the tool starts (see :func:`reads_through`).
    """

    name = "freeze"

    def __init__(
        self,
        freezes: CachedFreezes,
        tools: Mapping[str, ToolSpec],
        outage: OutagePolicy | None = None,
        *,
        last_look: bool = False,
    ) -> None:
        self._freezes = freezes
        self._tools = tools
        self._outage = outage or OutagePolicy()
        self._last_look = last_look

    def check(self, ctx: CallContext) -> Deny | None:
        fresh = self._last_look and reads_through(self._tools.get(ctx.call.tool))
        try:
            entry = self._freezes.matching(ctx.call.principal, fresh=fresh)
        except Exception as exc:  # noqa: BLE001 - the kill switch cannot answer: fail closed
            return self._outage.refusal(
                ctx, "kill switch", self._freezes.where, exc, self._risk(ctx)
            )
        if entry is None:
            return None
        return ctx.deny(DenyCode.FROZEN, entry.describe())

    def _risk(self, ctx: CallContext) -> Risk | None:
        spec = self._tools.get(ctx.call.tool)
        return spec.risk if spec is not None else None
