"""A supervisor in another process, deciding holds through the service's REST API.

    FIREWALL_DEMO_TOKEN=... python -m firewall.examples.support_agent.rest_approver URL SINCE

Approves every hold created at or after ``SINCE`` (ISO 8601, taken by whoever starts
this process, so holds opened while it imports are not missed), as the owner of the
bearer token (the service decides who that is). Prints one JSON line per hold it decides, with
the wall-clock time of the approval, so the demo can report click-to-run latency.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime

import httpx

TOKEN_ENV = "FIREWALL_DEMO_TOKEN"  # noqa: S105 - a variable name, not a secret
POLL_S = 0.05
THINKING_TIME_S = 0.3


def say(event: str, **fields: object) -> None:
    """One JSON line on stdout for the demo to show."""
    print(json.dumps({"event": event, **fields}), flush=True)


def decide_new_holds(client: httpx.Client, since: datetime, seen: set[str]) -> None:
    """Approve each pending hold created after ``since`` that was not seen before."""
    for hold in client.get("/api/holds").raise_for_status().json()["holds"]:
        if hold["hold_id"] in seen or datetime.fromisoformat(hold["created_at"]) < since:
            continue
        seen.add(hold["hold_id"])
        say("hold", hold_id=hold["hold_id"], tool=hold["tool"], args=hold["args"],
            approvers=hold["approvers"], reasons=hold["reasons"])  # fmt: skip
        time.sleep(THINKING_TIME_S)
        approved_at = time.time()
        response = client.post(f"/api/holds/{hold['hold_id']}/approve")
        body = response.json()
        decided = body.get("hold", {})
        say("decided", hold_id=hold["hold_id"], status=response.status_code,
            state=decided.get("state"), by=decided.get("approvals"),
            error=body.get("error"), at=approved_at)  # fmt: skip


def main(url: str, since: datetime) -> int:
    """Poll and approve until terminated."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        print(f"{TOKEN_ENV} is unset", file=sys.stderr)
        return 2
    seen: set[str] = set()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        while True:
            try:
                decide_new_holds(client, since, seen)
            except httpx.HTTPError as exc:
                say("error", error=type(exc).__name__)
            time.sleep(POLL_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], datetime.fromisoformat(sys.argv[2])))
