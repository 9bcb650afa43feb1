"""The interface every approval store implements."""

from __future__ import annotations

import builtins
from typing import Protocol

from firewall.approvals.models import DECISION_FIELDS, HoldRecord, HoldState
from firewall.types import CallKey


class ApprovalStore(Protocol):
    """Durable holds; every change of state goes through :meth:`compare_and_set`.

    Implementations raise :class:`firewall.errors.StoreError` when they cannot answer.
    """

    def create(self, record: HoldRecord) -> None:
        """Store a new hold; :class:`firewall.errors.DuplicateCallError` if its key has one.

        At most one hold per :attr:`HoldRecord.key`, enforced by the store itself (a
        unique constraint), so concurrent writers cannot both succeed.
        """
        ...

    def get(self, hold_id: str) -> HoldRecord | None:
        """The hold ``hold_id``, or None if there is none."""
        ...

    def list(self, state: HoldState | None = None) -> builtins.list[HoldRecord]:
        """All holds (or those in ``state``), oldest first."""
        ...

    def for_call(self, key: CallKey) -> HoldRecord | None:
        """The hold of the call ``key`` names (its tenant, session, agent and id), or None."""
        ...

    def compare_and_set(self, old: HoldRecord, new: HoldRecord) -> bool:
        """Replace ``old`` by ``new`` iff the stored version is still ``old.version``."""
        ...


def check_successor(old: HoldRecord, new: HoldRecord) -> None:
    """Refuse a CAS that is not the next version of the same hold.

    Only the decision fields may change; what was asked (tool, args, digest, principal,
    approver group, quorum, expiry) is fixed when the hold is created.
    """
    if new.version != old.version + 1:
        raise ValueError(f"new version must be {old.version + 1}, got {new.version}")
    decision = set(DECISION_FIELDS)
    if old.model_dump(exclude=decision) != new.model_dump(exclude=decision):
        raise ValueError(f"hold {old.hold_id}: only the decision fields may change")
