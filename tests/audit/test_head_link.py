"""A writer refuses a head row whose ``hash`` column was edited (with the record's), though
checkpoints no longer carry the last record's hash as an extension line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import update

from firewall.audit.events import AuditEvent
from firewall.audit.schema import head_table
from firewall.audit.store import SqlAuditLog
from firewall.errors import AuditError
from tests.audit.tampering import LAST, build_log, database, set_row

OpenLog = Callable[..., SqlAuditLog]
FORGED = "sha256:" + "66" * 32


def test_a_new_writer_refuses_a_head_hash_edited_with_its_record(
    audit_url: str, open_log: OpenLog
) -> None:
    build_log(audit_url, open_log())
    set_row(audit_url, LAST, hash=FORGED)  # plain SQL: both unauthenticated columns
    with database(audit_url) as conn:
        conn.execute(update(head_table).values(hash=FORGED))
    with pytest.raises(AuditError, match="hash is not the one its writer signed"):
        open_log().append(AuditEvent(event="outcome", call_id="c-late", outcome="ok"))


def test_an_untouched_head_is_accepted_by_a_new_writer(audit_url: str, open_log: OpenLog) -> None:
    build_log(audit_url, open_log())
    record = open_log().append(AuditEvent(event="outcome", call_id="c-late", outcome="ok"))
    assert record.seq == LAST + 1
