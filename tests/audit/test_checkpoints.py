"""Checkpoints: the tlog-checkpoint body, signed-note signatures, and parsing errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from firewall.audit.checkpoints import (
    Checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    signature_status,
)
from firewall.audit.keys import SigningKey
from firewall.errors import AuditError

CHECKPOINT = Checkpoint(
    origin="agent-firewall/audit/3f9c",
    size=1204,
    root=bytes(range(32)),
    chain="sha256:" + "ab" * 32,
    time="2025-01-31T09:00:00.000000+00:00",
)
KEY = SigningKey.generate("firewall-audit-test")


def test_the_body_follows_the_tlog_checkpoint_layout() -> None:
    lines = CHECKPOINT.body().splitlines()
    assert lines[:3] == [
        "agent-firewall/audit/3f9c",
        "1204",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ]
    assert lines[3:] == ["chain sha256:" + "ab" * 32, "time 2025-01-31T09:00:00.000000+00:00"]


def test_a_signed_checkpoint_parses_back_and_verifies() -> None:
    note = sign_checkpoint(CHECKPOINT, [KEY])
    parsed = parse_checkpoint(note)
    assert parsed.checkpoint == CHECKPOINT
    assert note.split("\n\n")[1].startswith("\u2014 firewall-audit-test ")
    assert signature_status(parsed, [KEY.verifier]) == ("verified", KEY.verifier.key_id)


def test_two_signers_each_verify_alone() -> None:
    other = SigningKey.generate("firewall-audit-next")
    parsed = parse_checkpoint(sign_checkpoint(CHECKPOINT, [KEY, other]))
    assert signature_status(parsed, [other.verifier])[0] == "verified"
    assert signature_status(parsed, [KEY.verifier])[0] == "verified"


def test_an_unknown_signer_and_a_bad_signature_are_told_apart() -> None:
    note = sign_checkpoint(CHECKPOINT, [KEY])
    stranger = SigningKey.generate("firewall-audit-test")
    assert signature_status(parse_checkpoint(note), [stranger.verifier])[0] == "unknown_key"
    altered = parse_checkpoint(note.replace("\n1204\n", "\n1205\n"))
    assert signature_status(altered, [KEY.verifier])[0] == "bad_signature"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda note: note.replace("\n\n", "\n"), "no blank line"),
        (lambda note: note.replace("\n1204\n", "\n01204\n"), "not a decimal"),
        (lambda note: note.replace("chain sha256:", "chain md5:"), "chain"),
        (lambda note: note.replace("time 2025", "time 25"), "time"),
        (lambda note: note.replace("\u2014 ", "- "), "malformed signature line"),
        (lambda note: note.split("\n\n")[0] + "\n\n", "no signature lines"),
    ],
    ids=["no-separator", "size", "chain", "time", "signature-line", "unsigned"],
)
def test_malformed_checkpoints_are_refused_naming_the_line(
    change: Callable[[str], str], problem: str
) -> None:
    with pytest.raises(AuditError, match=problem):
        parse_checkpoint(change(sign_checkpoint(CHECKPOINT, [KEY])))
