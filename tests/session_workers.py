"""Run in a spawned child process: one worker of a shared-session deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firewall.audit.store import SqlAuditLog
from firewall.config import parse_config
from firewall.factory import build_firewall
from firewall.gate import Executed
from firewall.types import Principal, ToolCall

AGENT = Principal(agent_id="bot", tenant="acme", scopes=frozenset({"crm:read", "payments:write"}))
POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "allow", "reasons": []}

decision := {"outcome": "deny", "reasons": [sprintf("tainted by %v", [source])]} if {
    input.tool.name == "pay"
    some source in input.session.sources.untrusted
}
"""
TOOLS: list[dict[str, Any]] = [
    {"name": "read_ticket", "scope": "crm:read", "output_labels": ["untrusted"]},
    {"name": "pay", "scope": "payments:write", "risk": "critical", "money_arg": "amount"},
]


def worker_config(workdir: str, redis_url: str, prefix: str, name: str) -> dict[str, Any]:
    """One worker's firewall: its own SQLite audit, limits (and so sessions) on the Redis."""
    base = Path(workdir)
    (base / "policy").mkdir(exist_ok=True)
    (base / "policy" / "p.rego").write_text(POLICY)
    return {
        "policy": {"dir": str(base / "policy")},
        "storage": {"url": f"sqlite:///{base / f'{name}.db'}", "limits_url": redis_url},
        "limits": {"key_prefix": prefix},
        "audit": {"dev_key": True},
        "tools": TOOLS,
    }


def run_in_session(config: dict[str, Any], tool: str, session_id: str) -> str:
    """Make one call of ``tool`` in ``session_id``; ``ran`` or the refusal's code and reasons."""
    firewall = build_firewall(parse_config(config))
    try:
        call = ToolCall(tool=tool, args={}, principal=AGENT, session_id=session_id)
        result = firewall.run(call, lambda: "done")
    finally:
        firewall.close()
        firewall.approvals.close()
        if isinstance(firewall.audit, SqlAuditLog):
            firewall.audit.close()
    if isinstance(result, Executed):
        return "ran"
    return f"{result.kind}: {'; '.join(result.reasons)}"
