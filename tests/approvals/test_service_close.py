"""``ApprovalService.close`` releases the connections of the store it was given."""

from __future__ import annotations

from firewall.approvals import ApprovalService
from tests.approvals.helpers import GROUPS, RecordingSink


class ClosableStore:
    """Stands in for a store holding connections; only ``close`` is used here."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_close_closes_the_store_once() -> None:
    store = ClosableStore()
    ApprovalService(store, RecordingSink(), GROUPS).close()  # type: ignore[arg-type]
    assert store.closed == 1
