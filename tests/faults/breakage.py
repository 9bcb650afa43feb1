"""Parts that break on cue: a stage, an approval store, an audit sink.

Each wraps the real part and fails the way production parts fail (an untyped bug, a
:class:`StoreError`, an :class:`AuditError`), so the rest of the pipeline is the real one.
"""

from __future__ import annotations

import builtins

from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.events import AuditEvent
from firewall.audit.records import AuditRecord
from firewall.audit.store import SqlAuditLog
from firewall.errors import AuditError, StoreError
from firewall.stages.base import CallContext
from firewall.types import CallKey, Deny

LOST_CONNECTION = "approval store failed: OperationalError: server closed the connection"


class ExplodingStage:
    """A stage with a bug: its next check raises ``KeyError`` (once)."""

    name = "exploding"

    def __init__(self) -> None:
        self.armed = True

    def check(self, ctx: CallContext) -> Deny | None:
        if self.armed:
            self.armed = False
            raise KeyError(ctx.call.call_id)
        return None


class BreakingStore:
    """The SQL approval store; reads fail from read number ``fail_from_read`` on, and
    every write fails once ``writes_broken`` is set."""

    def __init__(
        self, inner: SqlApprovalStore, fail_from_read: int | None = None, *, untyped: bool = False
    ) -> None:
        self.inner = inner
        self.untyped = untyped  # raise a bare ConnectionError, as a third-party store might
        self.fail_from_read = fail_from_read
        self.reads = 0
        self.writes_broken = False

    def create(self, record: HoldRecord) -> None:
        self._check(broken=self.writes_broken)
        self.inner.create(record)

    def get(self, hold_id: str) -> HoldRecord | None:
        self.reads += 1
        self._check(broken=self.fail_from_read is not None and self.reads >= self.fail_from_read)
        return self.inner.get(hold_id)

    def list(self, state: HoldState | None = None) -> builtins.list[HoldRecord]:
        return self.inner.list(state)

    def for_call(self, key: CallKey) -> HoldRecord | None:
        return self.inner.for_call(key)

    def compare_and_set(self, old: HoldRecord, new: HoldRecord) -> bool:
        self._check(broken=self.writes_broken)
        return self.inner.compare_and_set(old, new)

    def _check(self, *, broken: bool) -> None:
        if broken and self.untyped:
            raise ConnectionError(LOST_CONNECTION)
        if broken:
            raise StoreError(LOST_CONNECTION)


class OutcomeLosingAudit:
    """The real audit log, except that it cannot append ``outcome`` records."""

    def __init__(self, log: SqlAuditLog) -> None:
        self.log = log

    def append(self, event: AuditEvent) -> AuditRecord:
        if event.event == "outcome":
            raise AuditError("audit log could not append: OperationalError: disk I/O error")
        return self.log.append(event)
