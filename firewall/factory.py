"""Build a :class:`Firewall` from a :class:`FirewallConfig` (stores chosen by URL)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from firewall.approvals.notify import notifier_from_url
from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.events import AuditSink
from firewall.audit.store import SqlAuditLog
from firewall.config import FirewallConfig
from firewall.containment.control import AlertHook, Containment
from firewall.containment.stores import is_redis
from firewall.credentials.vault import CredentialVault
from firewall.gate import Firewall, utc_now
from firewall.pii.privacy import Privacy
from firewall.policy.engine import engine_from_url
from firewall.session import MemorySessionStore, SessionStore
from firewall.stages.policy import FactsProvider
from firewall.totals import totals_from_url
from firewall.totals.control import Totals


def approval_service(
    config: FirewallConfig, audit: SqlAuditLog, clock: Callable[[], datetime] = utc_now
) -> ApprovalService:
    """The approval service over the configured store, with the configured groups."""
    store = SqlApprovalStore(config.storage.approvals())
    notifier = notifier_from_url(config.holds.notify_url)
    return ApprovalService(store, audit, config.approvers, clock=clock, notifier=notifier)


def containment(
    config: FirewallConfig, audit: AuditSink, alert: AlertHook | None = None
) -> Containment:
    """Kill switch, rate limits, budgets and circuit breaker on the configured stores."""
    return Containment(
        storage_url=config.storage.limits_url,
        freeze_url=config.storage.freeze(),
        rate_limits=config.rate_limits,
        budgets=config.budgets,
        settings=config.limits,
        breaker=config.breaker,
        audit=audit,
        alert=alert,
    )


def build_firewall(
    config: FirewallConfig,
    *,
    facts: Mapping[str, FactsProvider] | None = None,
    clock: Callable[[], datetime] = utc_now,
    alert: AlertHook | None = None,
) -> Firewall:
    """A firewall wired exactly as ``config`` says; ``alert`` hears of automatic freezes."""
    url = config.storage.audit()
    audit = SqlAuditLog(
        url,
        keys=config.audit.writer_keys(url),
        checkpoints=config.audit.checkpoints,
        checkpoint_dir=config.audit.checkpoint_dir,
        sqlite_synchronous=config.audit.sqlite_synchronous,
        outcome_flush_s=config.audit.outcome_flush_s,
    )
    return Firewall(
        tools=config.tools,
        policy=engine_from_url(config.policy.engine, config.policy.dir),
        audit=audit,
        approvals=approval_service(config, audit, clock),
        containment=containment(config, audit, alert),
        vault=CredentialVault.from_settings(config.vault),
        facts=facts,
        settings=config.holds,
        clock=clock,
        privacy=Privacy(
            clock=clock, token_ttl_s=config.pii.token_ttl_s, default_rule=config.pii.output
        ),
        sessions=session_store(config),
        totals=Totals(config.totals, totals_from_url(config.storage.totals(), config.limits)),
    )


def session_store(config: FirewallConfig) -> SessionStore:
    """In memory, or in Redis when several workers share sessions (``storage.sessions()``)."""
    url, recent = config.storage.sessions(), config.policy.session_history
    if not is_redis(url):
        return MemorySessionStore(recent_events=recent)
    from firewall.session_redis import RedisSessionStore  # noqa: PLC0415 - optional extra

    limits = config.limits
    return RedisSessionStore(
        url, recent_events=recent, key_prefix=limits.key_prefix, timeout_s=limits.timeout_s
    )
