"""Keys and signatures in the signed-note format, checked against Go's published example."""

from __future__ import annotations

import base64

import pytest

from firewall.audit.keys import SigningKey, VerifierKey, key_hash
from firewall.errors import AuditError

# From the documentation of golang.org/x/mod/sumdb/note.
GO_PRIVATE = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)


def test_the_go_example_key_parses_and_has_the_go_verifier_key() -> None:
    key = SigningKey.parse(GO_PRIVATE)
    assert key.verifier.text() == GO_VERIFIER
    assert VerifierKey.parse(GO_VERIFIER) == key.verifier
    assert key.text() == GO_PRIVATE


def test_signatures_are_the_go_example_signature() -> None:
    key = SigningKey.parse(GO_PRIVATE)
    tag = key.verifier.key_hash.to_bytes(4, "big") + key.sign(GO_TEXT)
    assert base64.b64encode(tag).decode() == GO_SIGNATURE


def test_verification_accepts_the_signature_and_rejects_any_change() -> None:
    key = SigningKey.generate("auditor-test")
    signature = key.sign(b"size 10")
    assert key.verifier.verify(b"size 10", signature)
    assert not key.verifier.verify(b"size 11", signature)
    assert not SigningKey.generate("auditor-test").verifier.verify(b"size 10", signature)


def test_the_key_id_depends_on_name_and_key() -> None:
    key = SigningKey.generate("one")
    assert key.verifier.key_hash == key_hash("one", key.verifier.public)
    assert key_hash("two", key.verifier.public) != key.verifier.key_hash


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a3", "name\\+hash\\+base64"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "invalid key name"),
        ("PeterNeumann+c74f20a3+AQ==", "not an Ed25519 key"),
        ("PeterNeumann+c74f20a3+!!!!", "bad base64"),
    ],
)
def test_malformed_verifier_keys_are_refused_naming_why(text: str, problem: str) -> None:
    with pytest.raises(AuditError, match=problem):
        VerifierKey.parse(text)


def test_private_key_errors_and_repr_never_show_the_key() -> None:
    key = SigningKey.parse(GO_PRIVATE)
    seed_text = GO_PRIVATE.rsplit("+", 1)[1]
    assert seed_text not in repr(key)
    with pytest.raises(AuditError) as caught:
        SigningKey.parse(GO_PRIVATE.replace("c74f20a3", "00000000"))
    assert seed_text not in str(caught.value)
    with pytest.raises(AuditError, match="not a private key"):
        SigningKey.parse(GO_VERIFIER)
