"""What ``firewall audit show`` displays: verified records only, found by what they say.

The log is verified in the same snapshot the records are read from. A record is shown
only if the verification vouches for it (signed by a trusted key and before any record
found bad); rows outside the chain are never read, and a call's records are found by
the call id inside the signed record, never by the unauthenticated ``call_id`` column.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from firewall.audit.findings import VerifyReport
from firewall.audit.jcs import canonical
from firewall.audit.records import AuditRecord
from firewall.audit.sources import SnapshotSource
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_source
from firewall.errors import AuditError


@dataclass
class Shown:
    """The records to display, how many were withheld, and the verification report."""

    report: VerifyReport
    records: list[AuditRecord] = field(default_factory=list)
    withheld: int = 0


class _Picker:
    """Keeps the rows to display: one call's, or the last ``limit``."""

    def __init__(self, call_id: str | None, limit: int) -> None:
        self._call_id = call_id
        self._needle = None if call_id is None else '"call_id":' + canonical(call_id)
        self.rows: deque[tuple[int, str, str]] = deque(maxlen=None if call_id else limit)

    def __call__(self, row_seq: int | None, stored_hash: str | None, body: str) -> None:
        if row_seq is None or stored_hash is None:
            return
        if self._needle is not None and self._needle not in body:
            return  # cheap test first: a record of this call holds the needle verbatim
        self.rows.append((row_seq, stored_hash, body))

    def records(self) -> list[AuditRecord]:
        found = []
        for row_seq, stored_hash, body in self.rows:
            try:
                record = AuditRecord.from_body(body, stored_hash)
            except AuditError:
                continue
            if record.seq != row_seq:
                continue  # a row holding another seq's record is misplaced: never shown
            if self._call_id is None or record.call_id == self._call_id:
                found.append(record)
        return found


def show_records(url: str, trust: Trust, call_id: str | None, limit: int) -> Shown:
    """Verify the log at ``url`` and pick the verified records of ``call_id`` (or the last)."""
    picker = _Picker(call_id, limit)
    with SqlAuditLog(url, create=False) as log, log.snapshot() as view:
        report = verify_source(SnapshotSource(view), trust, has_head_row=True, on_row=picker)
    records = picker.records()
    if call_id is not None:
        records = records[-limit:]
    shown = [record for record in records if record.seq <= report.verified_through]
    return Shown(report=report, records=shown, withheld=len(records) - len(shown))
