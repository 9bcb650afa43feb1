"""Fault test: the Redis behind limits, budgets and the kill switch dies mid-run.

The test starts its own ``redis-server`` on a free port (never the shared one) and
kills it between two batches of calls. Afterwards calls fail closed as configured,
nothing raises, every refusal is in the audit log, and service resumes with Redis.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from firewall.containment.settings import LimitSettings
from firewall.gate import Executed
from firewall.stages.limits import RateLimitRule
from firewall.types import Deny, DenyCode
from tests.containment.helpers import closed_port
from tests.containment.rig import call, contained_rig

pytestmark = pytest.mark.redis


class OwnRedis:
    """A throwaway redis-server: no persistence, in a temp dir, on a free port."""

    def __init__(self, workdir: Path) -> None:
        self.port = closed_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self._workdir),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None


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
