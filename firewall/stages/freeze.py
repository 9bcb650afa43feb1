"""The kill-switch stage, first in the pipeline: a frozen agent or tenant runs nothing."""

from __future__ import annotations

from collections.abc import Mapping

from firewall.containment.freeze import CachedFreezes
from firewall.containment.outage import OutagePolicy
from firewall.stages.base import CallContext
from firewall.types import Deny, DenyCode, Risk, ToolSpec


class FreezeCheck:
    """Deny every call of a frozen agent or tenant (or all calls); fail closed on outage."""

    name = "freeze"

    def __init__(
        self,
        freezes: CachedFreezes,
        tools: Mapping[str, ToolSpec],
        outage: OutagePolicy | None = None,
    ) -> None:
        self._freezes = freezes
        self._tools = tools
        self._outage = outage or OutagePolicy()

    def check(self, ctx: CallContext) -> Deny | None:
        try:
            entry = self._freezes.matching(ctx.call.principal)
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
