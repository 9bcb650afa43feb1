"""Inclusion and consistency proofs: an auditor checks one record without the log."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from firewall.audit.keys import SigningKey
from firewall.audit.proofs import (
    ConsistencyProof,
    InclusionProof,
    build_consistency,
    build_inclusion,
    check_consistency,
    check_inclusion,
)
from firewall.audit.sources import SnapshotSource, leaves_and_body
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust
from firewall.errors import AuditError
from tests.audit.tampering import EVENTS, MIDDLE

OpenLog = Callable[..., SqlAuditLog]


@pytest.fixture
def log(open_log: OpenLog) -> SqlAuditLog:
    log = open_log()
    for event in EVENTS:
        log.append(event)
    return log


def head_and_leaves(log: SqlAuditLog, seq: int | None) -> tuple[str, list[bytes], str | None]:
    with log.snapshot() as view:
        leaves, body = leaves_and_body(SnapshotSource(view), seq)
        return str(view.head_note()), leaves, body


def inclusion(log: SqlAuditLog, seq: int) -> InclusionProof:
    note, leaves, body = head_and_leaves(log, seq)
    assert body is not None
    return build_inclusion(seq, body, leaves, note)


def test_an_inclusion_proof_shows_one_record_against_the_signed_head(
    log: SqlAuditLog, trust: Trust
) -> None:
    result = check_inclusion(inclusion(log, MIDDLE), trust.keys)
    assert (result.status, result.exit_code) == ("valid", 0)
    assert result.record is not None
    assert (result.record.seq, result.record.tool) == (MIDDLE, "issue_refund")


def test_every_record_of_the_log_has_a_valid_proof(log: SqlAuditLog, trust: Trust) -> None:
    statuses = {check_inclusion(inclusion(log, seq), trust.keys).status for seq in range(1, 10)}
    assert statuses == {"valid"}


@pytest.mark.parametrize(
    "change",
    [
        lambda proof: proof.model_copy(update={"body": proof.body.replace("issue_refund", "pay")}),
        lambda proof: proof.model_copy(update={"seq": proof.seq + 1}),
        lambda proof: proof.model_copy(update={"path": proof.path[1:]}),
    ],
    ids=["record", "seq", "path"],
)
def test_a_changed_inclusion_proof_is_invalid(
    log: SqlAuditLog, trust: Trust, change: Callable[[InclusionProof], InclusionProof]
) -> None:
    result = check_inclusion(change(inclusion(log, MIDDLE)), trust.keys)
    assert (result.status, result.exit_code) == ("invalid", 1)


def test_a_proof_signed_only_by_keys_you_do_not_hold_is_inconclusive(log: SqlAuditLog) -> None:
    """Exit 2 means "no trusted key": not proven wrong, not proven right (issue 14)."""
    stranger = SigningKey.generate("stranger").verifier
    result = check_inclusion(inclusion(log, 2), [stranger])
    assert (result.status, result.exit_code) == ("inconclusive", 2)


def test_without_a_key_a_proof_is_inconclusive(log: SqlAuditLog) -> None:
    assert check_inclusion(inclusion(log, 2), []).exit_code == 2


def test_a_checkpoint_that_does_not_match_the_log_gives_no_proof(log: SqlAuditLog) -> None:
    note, leaves, body = head_and_leaves(log, 3)
    assert body is not None
    leaves[0] = bytes(32)
    with pytest.raises(AuditError, match="does not match"):
        build_inclusion(3, body, leaves, note)


def test_an_older_head_is_consistent_with_the_newer(log: SqlAuditLog, trust: Trust) -> None:
    old_note, _, _ = head_and_leaves(log, None)
    log.append(EVENTS[0])
    new_note, leaves, _ = head_and_leaves(log, None)
    proof = build_consistency(old_note, new_note, leaves)
    assert check_consistency(proof, trust.keys).status == "valid"
    roots = [base64.b64decode(node) for node in proof.path]
    forged = ConsistencyProof(
        old_checkpoint=old_note,
        new_checkpoint=new_note,
        path=tuple(base64.b64encode(bytes(32)).decode() for _ in roots),
    )
    assert check_consistency(forged, trust.keys).status == "invalid"


def test_checkpoints_of_two_different_logs_are_not_consistent(
    log: SqlAuditLog, trust: Trust
) -> None:
    note, _leaves, _ = head_and_leaves(log, None)
    other_origin = note.replace("agent-firewall/audit/", "agent-firewall/audit/0", 1)
    proof = ConsistencyProof(old_checkpoint=other_origin, new_checkpoint=note, path=())
    assert check_consistency(proof, trust.keys).status == "invalid"
