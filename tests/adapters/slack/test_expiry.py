"""Expiry under a frozen clock: the card says "expired", and the waiting agent is told so."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from firewall.examples.support_agent.backends import Backends
from freezegun import freeze_time

from firewall.approvals import HoldState
from firewall.factory import build_firewall
from firewall.gate import Executed
from firewall.types import Deny, DenyCode, ToolCall
from tests.adapters.rig import AGENT, TTL, Rig, running_service

# psycopg times connections with time.monotonic; the service's event loop needs real time.
FREEZE_IGNORE = ["psycopg"]
SAFETY_TIMEOUT_S = 60


def _expired_card(rig: Rig, hold_id: str) -> bool:
    return any(
        hold_id in json.dumps(call.params["blocks"]) and "*Expired*" in json.dumps(call.params)
        for call in rig.slack.calls_to("chat.update")
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_service_expires_an_undecided_hold_and_updates_its_card(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        freeze_time(_now(), ignore=FREEZE_IGNORE, real_asyncio=True) as frozen,
        running_service(db_url, monkeypatch) as rig,
    ):
        _, record = rig.open_hold()
        rig.card_ts(record.hold_id)
        frozen.tick(TTL + timedelta(seconds=1))
        rig.runtime.worker.tick()  # the service's periodic round, on the frozen clock
        expired = rig.agent.get(record.hold_id)
        assert expired is not None
        assert (expired.state, expired.approvals) == (HoldState.EXPIRED, ())
        rig.slack.wait_until(lambda: _expired_card(rig, record.hold_id), "expired card")
        assert rig.runtime.slack is not None
        card = rig.runtime.slack.cards.get(record.hold_id)
        assert card is not None
        assert card.done


def test_waiting_agent_gets_expired_and_the_tool_never_runs(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran: list[str] = []
    results: list[object] = []
    with (
        freeze_time(_now(), ignore=FREEZE_IGNORE, real_asyncio=True) as frozen,
        running_service(db_url, monkeypatch) as rig,
    ):
        firewall = build_firewall(rig.runtime.config.firewall, facts=Backends.seeded().facts())
        call = ToolCall(
            tool="issue_refund",
            args={"order_id": "o-2", "amount": 450.0, "reason": "late delivery"},
            principal=AGENT,
            session_id="s-1",
        )
        agent = threading.Thread(
            target=lambda: results.append(firewall.run(call, lambda: ran.append("ran"))),
            daemon=True,
        )
        agent.start()
        rig.slack.wait_until(lambda: rig.agent.for_call(call.key), "the hold")
        hold = rig.agent.for_call(call.key)
        assert hold is not None
        rig.card_ts(hold.hold_id)
        frozen.tick(TTL + timedelta(seconds=1))
        agent.join(SAFETY_TIMEOUT_S)
        rig.slack.wait_until(lambda: _expired_card(rig, hold.hold_id), "expired card")
        firewall.close()
    [result] = results
    assert isinstance(result, Deny)
    assert result.code is DenyCode.APPROVAL_EXPIRED
    assert not isinstance(result, Executed)
    assert ran == []
