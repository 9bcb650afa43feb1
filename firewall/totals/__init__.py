"""Running totals the policy reasons about (refunded per order, customer, tenant).

One interface (:mod:`firewall.totals.base`), one module per backend, chosen by URL:
``memory://`` (one process) or ``redis://`` (every worker).
"""

from __future__ import annotations

from firewall.containment.settings import LimitSettings
from firewall.containment.stores import describe_url, is_redis
from firewall.errors import ConfigError
from firewall.totals.base import Entry, Reserved, Tally, TotalRule, TotalsStore
from firewall.totals.memory import MemoryTotals

__all__ = [
    "Entry",
    "MemoryTotals",
    "Reserved",
    "Tally",
    "TotalRule",
    "TotalsStore",
    "totals_from_url",
]


def totals_from_url(url: str, settings: LimitSettings | None = None) -> TotalsStore:
    """``memory://`` or ``redis://host:port/db`` (key prefix and timeout from ``settings``)."""
    if is_redis(url):
        from firewall.totals.redis_store import RedisTotals  # noqa: PLC0415 - optional extra

        return RedisTotals(url, settings)
    if url.startswith("memory://"):
        return MemoryTotals()
    raise ConfigError(
        "storage.totals_url", f"no totals store for {describe_url(url)}; use memory:// or redis://"
    )
