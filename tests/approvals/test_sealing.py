"""Holds keep personal data sealed per data subject; erasing the subject reaches them.

The attacker reads and writes ``approval_holds`` with plain SQL; approvers read through
the store.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from firewall.approvals import ApprovalService, HoldState, SqlApprovalStore
from firewall.approvals.masking import mask_text
from firewall.errors import ApprovalError, StoreError
from firewall.types import Principal, ToolCall
from tests.approvals.helpers import RecordingSink, open_hold

CUSTOMER = "customer:c-4711"
EMAIL = "jo.quartz@example.org"
SECRETS = ("c-4711", EMAIL, "jo.quartz", "250.75")


def customer_call() -> ToolCall:
    principal = Principal(
        agent_id="support-bot", tenant="acme", requested_by="bob", on_behalf_of=CUSTOMER
    )
    args = {"amount": 250.75, "note": f"c-4711 wrote from {EMAIL}"}
    return ToolCall(tool="issue_refund", args=args, principal=principal, session_id="s-1")


def raw_rows(url: str) -> str:
    """Every column of every hold, as plain SQL returns them."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM approval_holds")).mappings().all()
    finally:
        engine.dispose()
    return json.dumps([{k: str(v) for k, v in row.items()} for row in rows])


def execute(url: str, statement: str, **params: object) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def test_a_stored_hold_holds_nothing_personal_but_approvers_see_it_all(
    db_url: str, store: SqlApprovalStore, service: ApprovalService
) -> None:
    call, record = open_hold(service, call=customer_call())
    reason = f"phoned {EMAIL} about {CUSTOMER}"
    service.deny(record.hold_id, "alice", reason)
    raw = raw_rows(db_url)
    assert [secret for secret in SECRETS if secret in raw] == []
    assert call.binding_digest() not in raw  # an unkeyed hash would confirm a guessed id
    shown = store.get(record.hold_id)
    assert shown is not None
    assert (shown.args, shown.principal["on_behalf_of"]) == (call.args, CUSTOMER)
    # The address is masked before it is stored (issue 15); the customer id it quotes is
    # sealed, and approvers read it back.
    assert (shown.digest, shown.decision_reason) == (call.binding_digest(), mask_text(reason))
    assert CUSTOMER in (shown.decision_reason or "")
    assert EMAIL not in (shown.decision_reason or "")


def test_after_erasure_the_hold_reads_erased_and_cannot_run(
    store: SqlApprovalStore, service: ApprovalService
) -> None:
    call, record = open_hold(service, call=customer_call())
    service.approve(record.hold_id, "alice")
    pseudonym, holds = store.erase(CUSTOMER)
    assert (pseudonym is not None, holds) == (True, 1)
    erased = store.get(record.hold_id)
    assert erased is not None
    assert erased.state is HoldState.APPROVED
    assert (erased.principal["on_behalf_of"], erased.args) == ("[erased]", {"[erased]": "[erased]"})
    with pytest.raises(ApprovalError) as refused:
        service.consume(record.hold_id, call.binding_digest())
    assert refused.value.code == "digest_mismatch"


def test_a_sealed_field_copied_into_another_hold_does_not_open(
    db_url: str, store: SqlApprovalStore, service: ApprovalService
) -> None:
    _, first = open_hold(service, call=customer_call())
    _, second = open_hold(service, call=customer_call())
    execute(
        db_url,
        "UPDATE approval_holds SET args = (SELECT args FROM approval_holds WHERE hold_id = :a) "
        "WHERE hold_id = :b",
        a=first.hold_id,
        b=second.hold_id,
    )
    with pytest.raises(StoreError, match="malformed at: fixed"):
        store.get(second.hold_id)


def test_erasure_rewrites_holds_stored_before_sealing(db_url: str) -> None:
    """A hold written raw (by an earlier version) is found by its subject and rewritten."""
    with SqlApprovalStore(db_url) as store:
        _, record = open_hold(ApprovalService(store, RecordingSink(), {}), call=customer_call())
    principal = json.dumps({"agent_id": "support-bot", "tenant": "acme", "on_behalf_of": CUSTOMER})
    execute(
        db_url,
        "UPDATE approval_holds SET args = :args, principal = :principal, reasons = '[]', "
        "decision_reason = :reason",
        args=json.dumps({"note": EMAIL}),
        principal=principal,
        reason=EMAIL,
    )
    with SqlApprovalStore(db_url) as store:
        assert store.erase(CUSTOMER)[1] == 1
        erased = store.get(record.hold_id)
    assert erased is not None
    assert [secret for secret in SECRETS if secret in raw_rows(db_url)] == []
    assert erased.decision_reason == "[erased]"
