"""The chain never holds raw personal data: free text is sealed like personal arguments.

The attacker reads ``audit_records`` with plain SQL; the operator reads through the log.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import create_engine, text

from firewall.audit.events import AuditEvent
from firewall.audit.render import reveal_references
from firewall.audit.store import SqlAuditLog
from tests.audit.tampering import ALICE

OpenLog = Callable[..., SqlAuditLog]
EMAIL = "jo.quartz@example.org"


def raw_bodies(url: str) -> str:
    """Every record body, as plain SQL returns it."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return "\n".join(conn.execute(text("SELECT body FROM audit_records")).scalars())
    finally:
        engine.dispose()


def test_free_text_everywhere_is_sealed_and_still_readable_by_the_operator(
    audit_url: str, open_log: OpenLog
) -> None:
    """Non-personal args, reasons, an approver's reason and the tool name quote no one raw."""
    log = open_log()
    record = log.append(
        AuditEvent(
            event="hold_decided",
            call_id="call_ft1",
            principal=ALICE,
            tool=f"mail_{EMAIL}",
            outcome="denied",
            reasons=(f"denied by alice: phoned {EMAIL}, c-100 is not the holder",),
            args={"note": f"customer c-100 wrote from {EMAIL}", "amount": 5},
            details={"approver": "alice", "reason": f"call {EMAIL} back", "n": [f"+{EMAIL}"]},
        )
    )
    raw = raw_bodies(audit_url)
    assert "c-100" not in raw
    assert EMAIL not in raw
    assert "jo.quartz" not in raw
    opened = reveal_references(record.model_dump(mode="json"), log.reveal)
    assert opened["args"] == {"note": f"customer c-100 wrote from {EMAIL}", "amount": 5}
    assert opened["reasons"] == [f"denied by alice: phoned {EMAIL}, c-100 is not the holder"]
    assert opened["details"]["reason"] == f"call {EMAIL} back"
    assert opened["tool"] == f"mail_{EMAIL}"
    assert opened["details"]["approver"] == "alice"  # staff stay readable after erasure


def test_personal_data_in_a_call_without_a_subject_is_sealed_under_the_call(
    audit_url: str, open_log: OpenLog
) -> None:
    """No ``on_behalf_of``: the call is its own subject, and erasing it erases the text."""
    log = open_log()
    principal = {**ALICE, "on_behalf_of": None}
    record = log.append(
        AuditEvent(
            event="decision",
            call_id="call_ft2",
            principal=principal,
            outcome="deny",
            reasons=(f"{EMAIL} is on the block list",),
        )
    )
    assert EMAIL not in raw_bodies(audit_url)
    assert log.erase("call:call_ft2") is not None
    assert reveal_references(list(record.reasons), log.reveal) == ["[erased] is on the block list"]


def test_text_with_no_personal_data_is_kept_verbatim(audit_url: str, open_log: OpenLog) -> None:
    log = open_log()
    reasons = ("refunds over 100 need a supervisor", "order 1234 at 2026-12-04T22:04:35Z")
    record = log.append(
        AuditEvent(event="decision", call_id="call_ft3", principal=ALICE, reasons=reasons)
    )
    assert record.reasons == reasons
