"""Fault test: the Redis behind limits, budgets and the kill switch dies mid-run.

The test starts its own ``redis-server`` on a free port (never the shared one) and
kills it between two batches of calls. Afterwards calls fail closed as configured,
nothing raises, every refusal is in the audit log, and service resumes with Redis.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from firewall.containment.settings import LimitSettings
from firewall.gate import Executed
from firewall.stages.limits import RateLimitRule
from firewall.types import Deny, DenyCode
from tests.containment.helpers import OwnRedis
from tests.containment.rig import call, contained_rig

pytestmark = pytest.mark.redis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.mark.parametrize("fail_open", [False, True], ids=["closed", "open-for-low-risk"])
def test_calls_fail_closed_when_redis_dies_and_every_refusal_is_audited(
    tmp_path: Path, own_redis: OwnRedis, fail_open: bool
) -> None:
    box = contained_rig(
        tmp_path,
        storage_url=own_redis.url,
        rate_limits=(RateLimitRule(limit="100/minute"),),
        limits=LimitSettings(fail_open_low_risk=fail_open, timeout_s=0.2, freeze_cache_s=0),
    )
    before = [box.firewall.run(call(), box.rig.tool()) for _ in range(3)]
    before.append(box.firewall.run(call("refund", amount=20), box.rig.tool()))
    assert all(isinstance(result, Executed) for result in before)

    own_redis.kill()
    lookups = [box.firewall.run(call(), box.rig.tool("lookup")) for _ in range(3)]
    refunds = [
        box.firewall.run(call("refund", amount=20), box.rig.tool("refund")) for _ in range(3)
    ]

    for refusal in refunds:
        assert isinstance(refusal, Deny)
        assert refusal.code is DenyCode.LIMITER_ERROR
        assert f"Redis at 127.0.0.1:{own_redis.port}" in refusal.reasons[0]
        assert "call refused (risk high" in refusal.reasons[0]
    assert all(isinstance(r, Executed) is fail_open for r in lookups)
    assert box.seen.count("refund") == 0

    refused = [r for r in [*lookups, *refunds] if isinstance(r, Deny)]
    for refusal in refused:
        [record] = box.rig.records(refusal.call_id)
        assert (record.outcome, record.code, record.reasons) == (
            "deny", "limiter_error", refusal.reasons
        )  # fmt: skip
    admitted_blind = [r.call_id for r in box.rig.records() if r.event == "fail_open"]
    expected = {r.call_id for r in lookups if isinstance(r, Executed)}
    assert set(admitted_blind) == expected


def test_service_resumes_when_redis_is_back(tmp_path: Path, own_redis: OwnRedis) -> None:
    box = contained_rig(
        tmp_path, storage_url=own_redis.url, limits=LimitSettings(timeout_s=0.2, freeze_cache_s=0)
    )
    own_redis.kill()
    assert isinstance(box.firewall.run(call(), box.rig.tool()), Deny)
    own_redis.start()
    assert isinstance(box.firewall.run(call(), box.rig.tool()), Executed)
