"""Run in a child process: guarded calls through a real Firewall on a shared audit log."""

from __future__ import annotations

import os
from pathlib import Path

from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.store import SqlAuditLog
from firewall.gate import Executed, Firewall
from firewall.policy.embedded import RegoEngine
from firewall.types import Principal, ToolCall, ToolSpec

POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "deny", "reasons": ["no rule for this tool"]}

decision := {"outcome": "allow", "reasons": []} if input.tool.name == "crm_lookup"
"""
TOOL = ToolSpec(
    name="crm_lookup",
    scope="crm:read",
    personal_args=("customer_id",),
    args_schema={
        "type": "object",
        "properties": {"customer_id": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["customer_id", "n"],
    },
)


def write_policy(directory: Path) -> Path:
    """The allow-lookups policy, written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "decision.rego").write_text(POLICY, encoding="utf-8")
    return directory


def run_guarded_calls(url: str, key_file: str, policy_dir: str, worker: int, count: int) -> None:
    """Make ``count`` allowed lookups for this worker's customer; each runs once."""
    audit = SqlAuditLog(url, keys=WriterKeys.from_file(Path(key_file)))
    firewall = Firewall(
        tools=[TOOL],
        policy=RegoEngine(Path(policy_dir)),
        audit=audit,
        approvals=ApprovalService(SqlApprovalStore(url), audit, {}),
    )
    principal = Principal(
        agent_id=f"worker-{worker}",
        tenant="acme",
        scopes=frozenset({"crm:read"}),
        on_behalf_of=f"customer:w{worker}",
    )
    try:
        for n in range(count):
            call = ToolCall(
                tool="crm_lookup",
                args={"customer_id": f"w{worker}", "n": n},
                principal=principal,
                session_id=f"w{worker}",
                call_id=f"w{worker}_{n}",
            )
            result = firewall.run(call, lambda n=n: n)  # type: ignore[misc]
            if not isinstance(result, Executed) or result.value != n:
                raise SystemExit(f"call {call.call_id} was not executed: {result!r}")
    finally:
        firewall.close()
        audit.close()


def crash_inside_the_tool(
    url: str, key_file: str, policy_dir: str, sqlite_synchronous: str = "full"
) -> None:
    """Make one allowed call whose tool kills the process: no outcome is ever written."""
    _crashing_firewall(url, key_file, policy_dir, sqlite_synchronous).run(
        _crashing_call(), lambda: os._exit(3)
    )


def crash_after_the_tool(
    url: str, key_file: str, policy_dir: str, sqlite_synchronous: str = "full"
) -> None:
    """The tool returns, then the process dies before its deferred outcome is sealed."""
    firewall = _crashing_firewall(url, key_file, policy_dir, sqlite_synchronous)
    result = firewall.run(_crashing_call(), lambda: 0)
    os._exit(3 if isinstance(result, Executed) else 4)


def _crashing_firewall(
    url: str, key_file: str, policy_dir: str, sqlite_synchronous: str
) -> Firewall:
    audit = SqlAuditLog(
        url,
        keys=WriterKeys.from_file(Path(key_file)),
        sqlite_synchronous=sqlite_synchronous,  # type: ignore[arg-type]
        outcome_flush_s=3600.0,  # the outcome waits: only a crash happens meanwhile
    )
    return Firewall(
        tools=[TOOL],
        policy=RegoEngine(Path(policy_dir)),
        audit=audit,
        approvals=ApprovalService(SqlApprovalStore(url), audit, {}),
    )


def _crashing_call() -> ToolCall:
    principal = Principal(agent_id="crasher", tenant="acme", scopes=frozenset({"crm:read"}))
    return ToolCall(
        tool="crm_lookup",
        args={"customer_id": "c-1", "n": 0},
        principal=principal,
        session_id="crashed",
        call_id="call_crashed",
    )
