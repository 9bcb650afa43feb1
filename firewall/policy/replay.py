"""What-if replay: re-evaluate audited policy decisions against a candidate policy.

Every decision record the policy stage made keeps the policy's input (without personal
data: the record's own ``args`` stand in for ``input.args``, personal values sealed per
data subject, see :mod:`firewall.recording`) and the outcome the policy gave. Replaying
opens the sealed values with the audit log's subject keys, asks the candidate policy, and
reports every decision whose outcome would change (allow→hold, hold→deny, ...). A record
whose data subject was erased cannot be replayed and is counted, not guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from pydantic import Field

from firewall.audit.records import AuditRecord
from firewall.audit.render import reveal_references
from firewall.errors import PolicyError
from firewall.policy.engine import PolicyEngine
from firewall.types import Frozen

Reveal = Callable[[str], tuple[bool, Any]]


class ChangedDecision(Frozen):
    """One audited decision the candidate policy would decide differently."""

    seq: int
    time: str
    call_id: str | None
    tool: str | None
    recorded: str
    candidate: str
    candidate_reasons: tuple[str, ...]

    @property
    def transition(self) -> str:
        """E.g. ``allow→hold``."""
        return f"{self.recorded}→{self.candidate}"


class ReplayReport(Frozen):
    """What a replay found: the changed decisions, and what it could not replay, by reason."""

    revision: str
    replayed: int = 0
    changed: list[ChangedDecision] = Field(default_factory=list)
    skipped: dict[str, int] = Field(default_factory=dict)

    def transitions(self) -> dict[str, int]:
        """How many decisions change, by transition."""
        return dict(Counter(change.transition for change in self.changed))


class _Erased(Exception):  # noqa: N818 - control flow inside this module only
    pass


def replay(
    records: Iterable[AuditRecord],
    engine: PolicyEngine,
    reveal: Reveal,
    since: datetime | None = None,
) -> ReplayReport:
    """Re-evaluate every policy decision in ``records`` (from ``since`` on) with ``engine``."""
    changed: list[ChangedDecision] = []
    skipped: Counter[str] = Counter()
    replayed = 0
    for record in records:
        if not _is_policy_decision(record) or not _on_or_after(record, since):
            continue
        outcome = _replay_one(record, engine, reveal, skipped)
        if outcome is None:
            continue
        replayed += 1
        if outcome[0] != record.details["policy_outcome"]:
            changed.append(_change(record, *outcome))
    return ReplayReport(
        revision=engine.revision, replayed=replayed, changed=changed, skipped=dict(skipped)
    )


def _is_policy_decision(record: AuditRecord) -> bool:
    return record.event == "decision" and (
        "policy_outcome" in record.details or "policy_input_omitted" in record.details
    )


def _on_or_after(record: AuditRecord, since: datetime | None) -> bool:
    return since is None or datetime.fromisoformat(record.time) >= since


def _replay_one(
    record: AuditRecord, engine: PolicyEngine, reveal: Reveal, skipped: Counter[str]
) -> tuple[str, tuple[str, ...]] | None:
    if "policy_input" not in record.details or record.args is None:
        skipped["input not recorded (too large)"] += 1
        return None
    try:
        policy_input = _opened({**record.details["policy_input"], "args": record.args}, reveal)
    except _Erased:
        skipped["personal data erased"] += 1
        return None
    try:
        document = engine.evaluate(policy_input)
    except PolicyError as exc:
        skipped[f"candidate policy failed: {exc}"] += 1
        return None
    return document.outcome, document.reasons


def _opened(document: dict[str, Any], reveal: Reveal) -> dict[str, Any]:
    """``document`` with sealed personal values opened; :class:`_Erased` if one cannot be."""

    def strict(reference: str) -> tuple[bool, Any]:
        readable, value = reveal(reference)
        if not readable:
            raise _Erased
        return readable, value

    opened: dict[str, Any] = reveal_references(document, strict)
    return opened


def _change(record: AuditRecord, candidate: str, reasons: tuple[str, ...]) -> ChangedDecision:
    return ChangedDecision(
        seq=record.seq,
        time=record.time,
        call_id=record.call_id,
        tool=record.tool,
        recorded=str(record.details["policy_outcome"]),
        candidate=candidate,
        candidate_reasons=reasons,
    )
