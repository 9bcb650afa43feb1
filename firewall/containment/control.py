"""``Containment``: the kill switch, rate limits, budgets and circuit breaker of one firewall.

All of them keep their state in one shared store chosen by URL (``memory://`` for one
process, ``redis://`` for many), except the freeze list, which falls back to the SQL
database when there is no Redis. Every freeze, unfreeze and fail-open is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog
from limits.storage import Storage, storage_from_string

from firewall.audit.events import AuditEvent, AuditSink
from firewall.containment.breaker import CircuitBreaker
from firewall.containment.budgets import BudgetLedger, ledger_from_url
from firewall.containment.freeze import CachedFreezes, FreezeEntry, FreezeTarget
from firewall.containment.freeze_stores import freeze_store_from_url
from firewall.containment.outage import OutagePolicy
from firewall.containment.settings import BreakerSettings, BudgetRule, LimitSettings
from firewall.containment.stores import describe_url, limits_options
from firewall.errors import ConfigError
from firewall.stages.base import CallContext
from firewall.stages.limits import RateLimitRule
from firewall.types import Deny

log = structlog.get_logger("firewall.containment")

AlertHook = Callable[[FreezeEntry], None]
"""Told of every automatic freeze (e.g. to post to Slack); its failures are only logged."""


class Containment:
    """The shared-state controls, built from one storage URL and the ``[limits]`` settings."""

    def __init__(
        self,
        *,
        storage_url: str = "memory://",
        freeze_url: str | None = None,
        rate_limits: Iterable[RateLimitRule] = (),
        budgets: Iterable[BudgetRule] = (),
        settings: LimitSettings | None = None,
        breaker: BreakerSettings | None = None,
        audit: AuditSink | None = None,
        alert: AlertHook | None = None,
    ) -> None:
        self.settings = settings or LimitSettings()
        self.storage_url = storage_url
        self.where = describe_url(storage_url)
        self.rate_limits = tuple(rate_limits)
        self.budgets = tuple(budgets)
        self._audit = audit
        self._alert = alert
        self.limiter_storage = limiter_storage(storage_url, self.settings)
        self.ledger: BudgetLedger = ledger_from_url(storage_url, self.settings)
        store = freeze_store_from_url(freeze_url or storage_url, self.settings)
        self.freezes = CachedFreezes(store, self.settings.freeze_cache_s)
        self.outage = OutagePolicy(
            fail_open_low_risk=self.settings.fail_open_low_risk, on_fail_open=self._audit_fail_open
        )
        self.breaker = CircuitBreaker(
            breaker or BreakerSettings(), self.limiter_storage, self.freezes, self._auto_frozen
        )

    # -- called by the gate -------------------------------------------------------------

    def after_denial(self, ctx: CallContext, denial: Deny) -> None:
        """Count ``denial`` towards the circuit breaker (a breaker failure is only logged)."""
        try:
            self.breaker.record(ctx.call, denial)
        except Exception as exc:  # the call is refused anyway
            log.exception("breaker_unavailable", where=self.where, error=type(exc).__name__)

    def release(self, reservation_id: str, owner: str) -> None:
        """Give back the budget ``owner`` reserved as ``reservation_id``: its call never ran.

        Nothing happens if ``owner`` does not own it (another hold, or already released).
        """
        try:
            self.ledger.release(reservation_id, owner=owner)
        except Exception as exc:  # it then lapses with its window (counted: the safe side)
            log.exception(
                "budget_release_failed", reservation=reservation_id, error=type(exc).__name__
            )

    # -- the kill switch ----------------------------------------------------------------

    def freeze(self, target: FreezeTarget, *, reason: str, by: str) -> FreezeEntry:
        """Stop ``target``'s calls in every process (within a second), then audit it."""
        entry = FreezeEntry(target=target.key, reason=reason, by=by)
        self.freezes.freeze(entry)
        self._append(_freeze_event("freeze", entry))
        return entry

    def unfreeze(self, target: FreezeTarget, *, by: str, reason: str = "") -> bool:
        """Audit, then lift the freeze of ``target``; False if it was not frozen."""
        entry = FreezeEntry(target=target.key, reason=reason or "lifted", by=by)
        self._append(_freeze_event("unfreeze", entry))
        lifted = self.freezes.unfreeze(target.key)
        if target.kind == "agent":
            self.breaker.reset(target.name)  # a fresh start, not an instant re-freeze
        return lifted

    def frozen(self) -> list[FreezeEntry]:
        """Every freeze in force, read from the shared store."""
        entries = self.freezes.store.snapshot()
        return [entries[key] for key in sorted(entries)]

    def close(self) -> None:
        """Release the connections of the shared stores."""
        for resource in (self.ledger, self.freezes.store):
            close = getattr(resource, "close", None)
            if close is not None:
                close()
        # limits' Redis storage has no close(); its client's pool holds the sockets.
        client = getattr(self.limiter_storage, "storage", None)
        close_client = getattr(client, "close", None)
        if callable(close_client):
            close_client()

    # -- internals ----------------------------------------------------------------------

    def _auto_frozen(self, entry: FreezeEntry) -> None:
        try:
            self._append(_freeze_event("freeze", entry))
        except Exception as exc:  # the freeze stands; say so loudly
            log.exception("auto_freeze_not_audited", target=entry.target, error=type(exc).__name__)
        if self._alert is not None:
            try:
                self._alert(entry)
            except Exception as exc:  # an alert channel must not break calls
                log.exception("freeze_alert_failed", target=entry.target, error=type(exc).__name__)

    def _audit_fail_open(self, ctx: CallContext, note: str) -> None:
        self._append(
            AuditEvent(
                event="fail_open",
                call_id=ctx.call.call_id,
                principal=ctx.call.principal.policy_view(),
                tool=ctx.call.tool,
                outcome="allow",
                reasons=(note,),
                details={"stage": ctx.stage},
            )
        )

    def _append(self, event: AuditEvent) -> None:
        if self._audit is not None:
            self._audit.append(event)


def limiter_storage(url: str, settings: LimitSettings) -> Storage:
    """The ``limits`` storage at ``url`` (memory or Redis), with our key prefix and timeouts."""
    options = limits_options(url, settings.key_prefix, settings.timeout_s)
    storage = storage_from_string(url, **options)
    if not isinstance(storage, Storage):
        raise ConfigError("storage.limits_url", f"{describe_url(url)} is not a synchronous storage")
    return storage


def _freeze_event(kind: str, entry: FreezeEntry) -> AuditEvent:
    return AuditEvent(
        event=kind,
        outcome=kind,
        reasons=(entry.reason,),
        details={
            "target": entry.target,
            "by": entry.by,
            "automatic": entry.automatic,
            "at": entry.at.isoformat(),
        },
    )
