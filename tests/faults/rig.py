"""A firewall on any store URL (SQLite or PostgreSQL), signed with an explicit key file.

It uses the policy and tools of :mod:`tests.gate_helpers` (lookup allowed, refund held
for a supervisor, pay denied), so fault tests read like the pipeline tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from firewall.approvals.base import ApprovalStore
from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.events import AuditSink
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.store import SqlAuditLog
from firewall.containment.control import Containment
from firewall.gate import Firewall, utc_now
from firewall.policy.embedded import RegoEngine
from firewall.policy.engine import PolicyEngine
from firewall.registry import ToolRegistry
from firewall.settings import GateSettings
from firewall.stages.base import Stage
from firewall.stages.pipeline import default_stages
from tests.gate_helpers import POLICY, TOOLS

APPROVERS = {"supervisors": ["alice", "carol"]}


def write_policy(directory: Path) -> Path:
    """The pipeline tests' policy, written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "decision.rego").write_text(POLICY, encoding="utf-8")
    return directory


@dataclass
class FaultRig:
    """A firewall and its stores; ``ran`` lists the tools that actually ran."""

    url: str
    firewall: Firewall
    audit: SqlAuditLog
    approvals: ApprovalService
    store: SqlApprovalStore
    ran: list[str] = field(default_factory=list)
    closed: bool = False

    def tool(self, name: str = "result") -> Callable[[], str]:
        """A tool that notes it ran and returns ``name``."""

        def execute() -> str:
            self.ran.append(name)
            return name

        return execute

    def close(self) -> None:
        """Seal what the log still holds back, release the engine and every connection.

        Tests close the rig before they read the log with another connection, as an
        auditor would after the process is done. Closing twice does nothing.
        """
        if not self.closed:
            self.closed = True
            self.firewall.close()
            self.store.close()
            self.audit.close()


def fault_rig(
    url: str,
    key_file: Path,
    policy_dir: Path,
    *,
    policy: PolicyEngine | None = None,
    audit: Callable[[SqlAuditLog], AuditSink] | None = None,
    store: Callable[[SqlApprovalStore], ApprovalStore] | None = None,
    stages: Callable[[list[Stage]], Sequence[Stage]] | None = None,
    settings: GateSettings | None = None,
) -> FaultRig:
    """A firewall on ``url``; ``audit`` and ``store`` wrap the real stores, ``stages``
    rewrites the default pipeline."""
    log = SqlAuditLog(url, keys=WriterKeys.from_file(key_file))
    holds = SqlApprovalStore(url)
    sink: AuditSink = audit(log) if audit else log
    approvals = ApprovalService(store(holds) if store else holds, sink, APPROVERS)
    engine = policy or RegoEngine(policy_dir)
    containment = Containment(audit=sink)
    pipeline = default_stages(
        ToolRegistry(TOOLS), policy=engine, containment=containment, facts={}, clock=utc_now
    )
    firewall = Firewall(
        tools=TOOLS,
        policy=engine,
        audit=sink,
        approvals=approvals,
        containment=containment,
        settings=settings,
        stages=stages(pipeline) if stages else None,
    )
    return FaultRig(url=url, firewall=firewall, audit=log, approvals=approvals, store=holds)
