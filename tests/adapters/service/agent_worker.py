"""Run as its own OS process: the agent, whose refund is held until someone decides it.

    python -m tests.adapters.service.agent_worker CONFIG AMOUNT

Prints one JSON line per step: ``held`` (with the hold id), ``tool_ran`` (with the
wall-clock time the tool started), and ``result`` (executed, or the denial code).
"""

from __future__ import annotations

import json
import sys
import time

from firewall.examples.support_agent.backends import Backends

from firewall.factory import build_firewall
from firewall.gate import Executed
from firewall.service_config import load_service_config
from firewall.types import ToolCall
from tests.adapters.rig import AGENT


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def main(config_path: str, amount: float) -> int:
    config = load_service_config(config_path).firewall
    firewall = build_firewall(config, facts=Backends.seeded().facts())
    call = ToolCall(
        tool="issue_refund",
        args={"order_id": "o-2", "amount": amount, "reason": "late delivery"},
        principal=AGENT,
        session_id="worker",
    )
    say("calling", call_id=call.call_id)

    def refund() -> str:
        say("tool_ran", at=time.time())
        return f"refunded {amount:.2f}"

    result = firewall.run(call, refund)
    firewall.close()
    if isinstance(result, Executed):
        say("result", kind="executed", value=result.value, hold_id=result.hold_id)
        return 0
    say("result", kind=result.kind, code=getattr(result, "code", None))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
