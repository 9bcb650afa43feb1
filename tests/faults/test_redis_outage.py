"""The Redis behind limits, budgets and the kill switch dies and comes back: the audit side.

``tests/containment/test_fault.py`` shows the calls fail closed during the outage; this
test adds what an auditor checks afterwards: ``firewall audit verify`` exits 0, every
refusal of the outage is in the chain exactly once, and every call that ran has both
its decision and its outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firewall.audit.keyfiles import default_public_keys
from firewall.containment.settings import LimitSettings
from firewall.gate import Executed
from firewall.stages.limits import RateLimitRule
from firewall.types import Deny, DenyCode
from tests.containment.helpers import OwnRedis
from tests.containment.rig import Contained, call, contained_rig
from tests.faults.verdict import ALLOWED_AND_RAN, Entry, assert_verified, records_by_call

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def some_calls(box: Contained, label: str) -> list[Any]:
    """Two lookups and a small refund (allowed when Redis answers)."""
    lookups = [box.firewall.run(call(), box.rig.tool(label)) for _ in range(2)]
    return [*lookups, box.firewall.run(call("refund", amount=20), box.rig.tool(label))]


def test_after_a_redis_outage_the_chain_verifies_with_every_refusal_in_it(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    box = contained_rig(
        tmp_path,
        storage_url=own_redis.url,
        rate_limits=(RateLimitRule(limit="100/minute"),),
        limits=LimitSettings(timeout_s=0.2, freeze_cache_s=0),
    )
    try:
        before = some_calls(box, "before")
        own_redis.kill()
        during = some_calls(box, "during") + some_calls(box, "during")
        own_redis.start()
        after = some_calls(box, "after")
    finally:
        box.firewall.close()
        box.rig.audit.close()

    assert all(isinstance(result, Executed) for result in [*before, *after])
    assert all(isinstance(r, Deny) and r.code is DenyCode.LIMITER_ERROR for r in during)
    assert box.seen == ["before"] * 3 + ["after"] * 3

    url = f"sqlite:///{tmp_path / 'firewall.db'}"
    expected: dict[str, list[Entry]] = {
        **{result.call_id: ALLOWED_AND_RAN for result in [*before, *after]},
        **{refusal.call_id: [("decision", "deny", "limiter_error")] for refusal in during},
    }
    assert records_by_call(url) == expected
    [public_key] = default_public_keys(url)
    verdict = assert_verified(url, public_key)
    assert verdict.records_checked == sum(len(entries) for entries in expected.values())
    assert verdict.in_doubt == []
