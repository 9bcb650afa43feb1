"""Signed notes and witness cosignatures, checked against the specs' own vectors.

Vectors come from C2SP ``signed-note.md``, Go's ``golang.org/x/mod/sumdb/note`` tests and
transparency-dev ``formats/note`` tests; the cosignature/v1 message is rebuilt by hand
from the ``tlog-cosignature`` spec text and checked with a bare Ed25519 verifier.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from firewall.audit.checkpoints import (
    Checkpoint,
    parse_checkpoint,
    parse_note,
    sign_checkpoint,
    signature_status,
)
from firewall.audit.cosignatures import (
    CosignerKey,
    cosignature_line,
    cosignature_timestamp,
    witness_status,
)
from firewall.audit.keys import SigningKey, VerifierKey
from firewall.errors import AuditError

# C2SP signed-note.md, "Example".
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6Tf"
    "Xppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# golang.org/x/mod/sumdb/note note_test.go: two signers, verifiers know one or both.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGw"
    "nWLox33WWd1RvMc+QQ=\n"
)
# transparency-dev/formats note_cosigv1_test.go: a native cosignature/v1 (0x04) vkey, and a
# cosignature whose embedded timestamp is 1727964367.
COSIGNER_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
TIMESTAMPED = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEB"
    "YJXORmnFBOBA=="
)
# transparency-dev/formats witness_test.go: a witness's signer key.
WIT1_SKEY = "PRIVATE+KEY+Wit1+55ee4561+AeadRiG7XM4XiieCHzD8lxysXMwcViy5nYsoXURWGrlE"

LOG = SigningKey.generate("example.com/audit")
CHECKPOINT = Checkpoint(origin="example.com/audit", size=7, root=bytes(range(32)))


def test_the_signed_note_spec_example_verifies() -> None:
    note = parse_note(SPEC_NOTE)
    assert note.body == "This is an example message.\n"
    assert signature_status(note, [VerifierKey.parse(SPEC_VKEY)])[0] == "verified"


def test_go_note_vectors_an_unknown_cosigner_is_ignored_not_fatal() -> None:
    note = parse_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    assert signature_status(note, [VerifierKey.parse(PETER_VKEY)])[0] == "verified"
    both = [VerifierKey.parse(PETER_VKEY), VerifierKey.parse(ENOCH_VKEY)]
    assert signature_status(note, both)[0] == "verified"
    assert signature_status(note, [])[0] == "unknown_key"


def test_go_note_vector_we_sign_byte_for_byte_like_go() -> None:
    key = SigningKey.parse(PETER_SKEY)
    assert key.verifier.text() == PETER_VKEY
    signed = parse_note(GO_TEXT + "\n" + PETER_SIG)
    assert key.sign(signed.message) == signed.signatures[0].signature


def test_a_cosignature_v1_vkey_from_the_wild_parses_with_its_key_id() -> None:
    key = CosignerKey.parse(COSIGNER_VKEY)
    assert (key.name, key.key_id) == ("remora.n621.de", "remora.n621.de+da77ade7")
    assert key.text() == COSIGNER_VKEY


def test_the_timestamp_of_a_cosignature_vector_is_read() -> None:
    raw = base64.b64decode(TIMESTAMPED)
    assert cosignature_timestamp(raw[4:]) == 1727964367


def test_a_witness_cosignature_is_the_spec_message_signed_by_the_witness() -> None:
    witness = SigningKey.parse(WIT1_SKEY)
    line = cosignature_line(witness, CHECKPOINT.body(), 1679315147)
    name, encoded = line.removeprefix("\u2014 ").split(" ")
    raw = base64.b64decode(encoded)
    assert (name, len(raw)) == ("Wit1", 76)
    key_id = hashlib.sha256(b"Wit1\n\x04" + witness.verifier.public).digest()[:4]
    assert raw[:4] == key_id
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    message = b"cosignature/v1\ntime 1679315147\n" + CHECKPOINT.body().encode()
    Ed25519PublicKey.from_public_bytes(witness.verifier.public).verify(raw[12:], message)


def test_a_log_checkpoint_cosigned_by_a_witness_verifies_for_log_and_witness() -> None:
    witness = SigningKey.parse(WIT1_SKEY)
    note_text = sign_checkpoint(CHECKPOINT, [LOG]) + cosignature_line(
        witness, CHECKPOINT.body(), 1727964367
    )
    note = parse_checkpoint(note_text)
    assert signature_status(note, [LOG.verifier])[0] == "verified"
    cosigner = CosignerKey.of(witness.verifier)
    assert witness_status(note, [cosigner]) == ({cosigner.key_id}, set())


def test_a_forged_witness_cosignature_does_not_count() -> None:
    witness = SigningKey.parse(WIT1_SKEY)
    other = CHECKPOINT.body().replace("\n7\n", "\n8\n")
    cosigned = sign_checkpoint(CHECKPOINT, [LOG]) + cosignature_line(witness, other, 1)
    note = parse_checkpoint(cosigned)
    cosigner = CosignerKey.of(witness.verifier)
    assert witness_status(note, [cosigner]) == (set(), {cosigner.key_id})


def test_an_unknown_signature_of_any_length_is_ignored() -> None:
    encoded = base64.b64encode(b"\x01\x02\x03\x04" + bytes(500)).decode()
    stranger = f"\u2014 witness.example/w9 {encoded}\n"
    note = parse_checkpoint(sign_checkpoint(CHECKPOINT, [LOG]) + stranger)
    assert signature_status(note, [LOG.verifier])[0] == "verified"


def test_a_known_key_with_a_truncated_signature_is_a_bad_signature() -> None:
    good = sign_checkpoint(CHECKPOINT, [LOG])
    body, line = good.split("\n\n")
    name, encoded = line.strip().removeprefix("\u2014 ").split(" ")
    short = base64.b64encode(base64.b64decode(encoded)[:40]).decode()
    note = parse_checkpoint(f"{body}\n\n\u2014 {name} {short}\n")
    assert signature_status(note, [LOG.verifier])[0] == "bad_signature"


@pytest.mark.parametrize(
    "line",
    ["\u2014 Bad Name AAAAAAA=", "\u2014 name not-base64!", "\u2014 name AAAA"],
    ids=["space-in-name", "not-base64", "shorter-than-a-key-id"],
)
def test_malformed_signature_lines_make_the_note_malformed(line: str) -> None:
    with pytest.raises(AuditError):
        parse_checkpoint(sign_checkpoint(CHECKPOINT, [LOG]) + line + "\n")


def test_cosigner_keys_refuse_other_types_and_wrong_ids() -> None:
    with pytest.raises(AuditError):
        CosignerKey.parse(SPEC_VKEY)  # an 0x01 note key, not a cosigner key
    with pytest.raises(AuditError):
        CosignerKey.parse(COSIGNER_VKEY.replace("da77ade7", "da77ade8"))
