"""What the Redis budget ledger of a run holds, bucket by bucket, in cents."""

from __future__ import annotations

from decimal import Decimal

from firewall.containment.budgets import to_minor_units
from firewall.containment.budgets_redis import RedisBudgetLedger
from firewall.containment.settings import BudgetRule, LimitSettings
from firewall.stages.budgets import bucket_of
from firewall.types import ToolCall
from tests.load.workload import LoadSetup, agent


class LedgerView:
    """Reads (never writes) the budget buckets of one run."""

    def __init__(self, setup: LoadSetup) -> None:
        self._ledger = RedisBudgetLedger(setup.redis_url, LimitSettings(key_prefix=setup.prefix))

    def used(self, rule: BudgetRule, customer: str) -> int:
        """Cents reserved under ``rule`` in the bucket of a refund for ``customer``."""
        call = ToolCall(
            tool="issue_refund", args={}, principal=agent(0, customer), session_id="ledger"
        )
        return self._ledger.used(bucket_of(rule, call, "load test"))

    def close(self) -> None:
        """Release the connection."""
        self._ledger.close()


def cents(amounts: list[Decimal]) -> int:
    """The sum of ``amounts`` in cents."""
    return sum(to_minor_units(amount) for amount in amounts)
