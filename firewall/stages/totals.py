"""The totals stage: reserve the call's amount in every running total it counts against.

The policy decided on the tallies it was shown (``input.context.totals``). The
reservation succeeds only if they are still those tallies; if another call changed one
meanwhile, the policy decides again on the new ones. So two concurrent refunds of one
order are decided one after the other, in every process sharing the store.
"""

from __future__ import annotations

from firewall.stages.base import CallContext, Stage
from firewall.stages.budgets import owner_of
from firewall.totals.control import Totals, reservation_of
from firewall.types import Deny, DenyCode

ATTEMPTS = 8
"""How often a call is decided again when concurrent calls keep changing its totals."""
_CHANGED = "changed"


class TotalsCheck:
    """Reserve the call in its totals, exactly as the policy saw them, or decide again."""

    name = "totals"

    def __init__(self, totals: Totals, decide: Stage, attempts: int = ATTEMPTS) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self._totals = totals
        self._decide = decide
        self._attempts = attempts

    def check(self, ctx: CallContext) -> Deny | None:
        if not self._totals.applies(ctx.call.tool):
            return None
        for _ in range(self._attempts):
            outcome = self._reserve(ctx)
            if outcome != _CHANGED:
                return outcome if isinstance(outcome, Deny) else None
            denial = self._decide.check(ctx)  # a concurrent call moved a total: decide again
            if denial is not None:
                return denial
        return ctx.deny(
            DenyCode.RATE_LIMITED,
            f"the totals of this call changed under {self._attempts} concurrent calls while"
            " it was decided; retry",
            retry_after_s=1.0,
        )

    def _reserve(self, ctx: CallContext) -> Deny | str | None:
        """Reserve once: None if reserved, a Deny, or ``_CHANGED`` if a tally moved."""
        entries = self._totals.entries(ctx)
        if isinstance(entries, Deny):
            return entries
        try:
            result = self._totals.store.reserve(
                reservation_of(ctx.call), entries, owner=owner_of(ctx)
            )
        except Exception as exc:  # noqa: BLE001 - the store cannot answer: fail closed
            where = self._totals.where
            reason = f"totals store unavailable ({where}: {type(exc).__name__}); call refused"
            return ctx.deny(DenyCode.STORE_ERROR, reason)
        if result.duplicate:
            return ctx.deny(
                DenyCode.INVALID_CALL,
                f"call id {ctx.call.call_id!r} already holds a reservation of its totals;"
                " each call needs a new id",
            )
        return None if result.admitted else _CHANGED
