"""The writer's own statement binding a signed head to its last record's hash.

Checkpoints carry no extension lines, so the hash of the last record (the ``prev_hash``
the next record will name) is not in the signed text. The writer adds one more
signature line, under its own signature type (signed-note type byte ``0xff`` followed
by a long identifier, as the spec reserves for such uses)::

    key ID    = SHA-256(name || "\\n" || 0xff || "agent-firewall/head/v1" || public key)[:4]
    signature = Ed25519("agent-firewall/head/v1\\n" || "sha256:<hex>\\n" || checkpoint body)

Verifiers that do not know this key ID ignore the line (the signed-note spec requires
it); a writer refuses a head row whose ``hash`` column it does not bind.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from firewall.audit.checkpoints import SignedNote
from firewall.audit.cosignatures import SIGNATURE_DASH
from firewall.audit.keys import SigningKey, VerifierKey

HEAD_LINK = b"agent-firewall/head/v1"


def _key_hash(key: VerifierKey) -> int:
    digest = hashlib.sha256(key.name.encode("utf-8") + b"\n\xff" + HEAD_LINK + key.public)
    return int.from_bytes(digest.digest()[:4], "big")


def _message(last_hash: str, body: bytes) -> bytes:
    return HEAD_LINK + b"\n" + last_hash.encode("ascii") + b"\n" + body


def head_link_line(key: SigningKey, body: str, last_hash: str) -> str:
    """The signature line binding the checkpoint ``body`` to ``last_hash``."""
    raw = _key_hash(key.verifier).to_bytes(4, "big") + key.sign(
        _message(last_hash, body.encode("utf-8"))
    )
    return f"{SIGNATURE_DASH} {key.name} {base64.b64encode(raw).decode('ascii')}\n"


def links_head(note: SignedNote, last_hash: str, keys: Iterable[VerifierKey]) -> bool:
    """Whether a key of ``keys`` bound ``note`` to ``last_hash``."""
    by_id = {(key.name, _key_hash(key)): key for key in keys}
    message = _message(last_hash, note.message)
    return any(
        key.verify(message, line.signature)
        for line in note.signatures
        if (key := by_id.get((line.name, line.key_hash))) is not None
    )
