"""Run in a spawned child process: an agent worker opening holds on a shared store."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from firewall.approvals import HoldRecord, SqlApprovalStore
from firewall.errors import DuplicateCallError
from firewall.types import Hold, Principal, ToolCall, new_id

AGENT = Principal(agent_id="bot", tenant="acme", scopes=frozenset({"refunds:write"}))


def open_holds(db_url: str, call_ids: list[str], start_at: float) -> dict[str, str]:
    """From ``start_at`` (wall clock), hold each call id in session ``s-1``: created or refused."""
    store = SqlApprovalStore(db_url)
    outcomes: dict[str, str] = {}
    try:
        time.sleep(max(0.0, start_at - time.time()))
        for call_id in call_ids:
            call = ToolCall(
                tool="refund", args={}, principal=AGENT, session_id="s-1", call_id=call_id
            )
            now = datetime.now(UTC)
            hold = Hold(
                call_id=call_id,
                hold_id=new_id("hold"),
                approvers="supervisors",
                quorum=1,
                expires_at=now + timedelta(minutes=5),
                reasons=("held",),
            )
            try:
                store.create(HoldRecord.from_call(call, hold, now))
                outcomes[call_id] = "created"
            except DuplicateCallError:
                outcomes[call_id] = "duplicate"
    finally:
        store.close()
    return outcomes
