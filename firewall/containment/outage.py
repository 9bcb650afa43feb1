"""What a stage does when its shared store cannot answer: fail closed, unless told otherwise."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from firewall.stages.base import CallContext
from firewall.types import Deny, DenyCode, Risk

log = structlog.get_logger("firewall.containment")

FailOpenHook = Callable[[CallContext, str], None]
"""Called (to audit it) when a low-risk call is admitted although a store was down."""


class OutagePolicy:
    """Deny when a store is down; admit low-risk calls only if configured, and audit that."""

    def __init__(
        self, *, fail_open_low_risk: bool = False, on_fail_open: FailOpenHook | None = None
    ) -> None:
        self.fail_open_low_risk = fail_open_low_risk
        self._on_fail_open = on_fail_open

    def refusal(
        self, ctx: CallContext, component: str, where: str, exc: Exception, risk: Risk | None
    ) -> Deny | None:
        """The denial of ``ctx``'s call because ``component`` at ``where`` raised ``exc``.

        ``risk`` None (tool not known yet) counts as the highest risk.
        """
        problem = f"{component} unavailable ({where}: {type(exc).__name__})"
        log.warning("store_unavailable", component=component, where=where, call_id=ctx.call.call_id)
        if risk is Risk.LOW and self.fail_open_low_risk:
            return self._fail_open(ctx, problem)
        rule = (
            "fail_open_low_risk is off" if risk is Risk.LOW else "only low-risk calls may fail open"
        )
        shown = risk.value if risk is not None else "unknown"
        return ctx.deny(DenyCode.LIMITER_ERROR, f"{problem}; call refused (risk {shown}; {rule})")

    def _fail_open(self, ctx: CallContext, problem: str) -> Deny | None:
        note = f"{problem}; low-risk call admitted (fail_open_low_risk)"
        if self._on_fail_open is not None:
            try:
                self._on_fail_open(ctx, note)
            except Exception as exc:  # an unaudited fail-open is a closed door
                log.exception(
                    "fail_open_not_audited", call_id=ctx.call.call_id, error=type(exc).__name__
                )
                return ctx.deny(
                    DenyCode.LIMITER_ERROR,
                    f"{problem}; call refused (fail-open could not be audited)",
                )
        log.warning("failed_open", call_id=ctx.call.call_id, reason=note)
        return None
