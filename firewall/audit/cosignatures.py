"""Timestamped Ed25519 cosignatures of checkpoints (c2sp.org/tlog-cosignature, v1).

A cosignature line is an ordinary signed-note line whose bytes are::

    key ID (4) || timestamp (8, big-endian POSIX seconds) || Ed25519 signature (64)

over the message ``"cosignature/v1\\ntime <timestamp>\\n" || checkpoint body``. The key
ID is ``SHA-256(name || "\\n" || 0x04 || public key)[:4]``. Witnesses sign this way; the
log signs its own checkpoints this way too, with its note key, to say *when*. A cosigner
key is written as a vkey ``<name>+<hex key ID>+base64(0x04 || public key)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from firewall.audit.keys import SigningKey, VerifierKey, check_name
from firewall.errors import AuditError

if TYPE_CHECKING:
    from firewall.audit.checkpoints import SignedNote

SIGNATURE_DASH = "\u2014"
COSIGNATURE_V1 = b"\x04"
COSIGNATURE_LENGTH = 8 + 64
MAX_TIMESTAMP = 2**63 - 1


@dataclass(frozen=True)
class CosignerKey:
    """A public key whose cosignature/v1 lines a verifier checks."""

    name: str
    public: bytes

    @classmethod
    def of(cls, key: VerifierKey) -> CosignerKey:
        """The cosigner key of the same Ed25519 key and name (another key ID)."""
        return cls(name=key.name, public=key.public)

    @cached_property
    def key_hash(self) -> int:
        """The key ID."""
        digest = hashlib.sha256(self.name.encode("utf-8") + b"\n" + COSIGNATURE_V1 + self.public)
        return int.from_bytes(digest.digest()[:4], "big")

    @property
    def key_id(self) -> str:
        """``name+hash``."""
        return f"{self.name}+{self.key_hash:08x}"

    def text(self) -> str:
        """The vkey line."""
        return f"{self.key_id}+{base64.b64encode(COSIGNATURE_V1 + self.public).decode('ascii')}"

    def timestamp_of(self, body: bytes, signature: bytes) -> int | None:
        """The timestamp of ``signature`` if it is this key's valid cosignature of ``body``."""
        if len(signature) != COSIGNATURE_LENGTH:
            return None
        timestamp = cosignature_timestamp(signature)
        if timestamp > MAX_TIMESTAMP:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(
                signature[8:], cosignature_message(body, timestamp)
            )
        except InvalidSignature:
            return None
        return timestamp

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        """Parse a cosigner vkey (type 0x04); :class:`AuditError` names what is wrong."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise AuditError("malformed witness key: expected name+hash+base64")
        name, hash_text, encoded = parts
        check_name(name)
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise AuditError(f"malformed witness key {name!r}: bad base64") from exc
        if len(raw) != 33 or raw[:1] != COSIGNATURE_V1:
            raise AuditError(f"witness key {name!r} is not an Ed25519 cosignature/v1 key")
        key = cls(name=name, public=raw[1:])
        if hash_text != f"{key.key_hash:08x}":
            raise AuditError(f"witness key {name!r}: key ID {hash_text} does not match the key")
        return key


def cosignature_message(body: bytes, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: header line, time line, then the checkpoint body."""
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + body


def cosignature_timestamp(signature: bytes) -> int:
    """The timestamp of a cosignature/v1 signature (the bytes after the key ID)."""
    if len(signature) < 8:
        raise AuditError("not a cosignature: too short")
    return int.from_bytes(signature[:8], "big")


def cosignature_line(key: SigningKey, body: str, timestamp: int) -> str:
    """The line of ``key``'s cosignature/v1 of the checkpoint ``body`` at ``timestamp``."""
    cosigner = CosignerKey.of(key.verifier)
    signature = key.sign(cosignature_message(body.encode("utf-8"), timestamp))
    raw = cosigner.key_hash.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
    return f"{SIGNATURE_DASH} {key.name} {base64.b64encode(raw).decode('ascii')}\n"


def verified_timestamps(note: SignedNote, keys: Iterable[CosignerKey]) -> list[int]:
    """The timestamps of the valid cosignatures of ``keys`` on ``note``."""
    by_id = {(key.name, key.key_hash): key for key in keys}
    stamps = []
    for line in note.signatures:
        key = by_id.get((line.name, line.key_hash))
        stamp = key.timestamp_of(note.message, line.signature) if key else None
        if stamp is not None:
            stamps.append(stamp)
    return stamps


def witness_status(note: SignedNote, witnesses: Sequence[CosignerKey]) -> tuple[set[str], set[str]]:
    """``(witnesses whose cosignature verifies, witnesses whose cosignature does not)``."""
    by_id = {(key.name, key.key_hash): key for key in witnesses}
    good: set[str] = set()
    bad: set[str] = set()
    for line in note.signatures:
        key = by_id.get((line.name, line.key_hash))
        if key is not None:
            valid = key.timestamp_of(note.message, line.signature) is not None
            (good if valid else bad).add(key.key_id)
    return good, bad - good


def read_witness_keys(path: Path) -> tuple[CosignerKey, ...]:
    """Every witness vkey line in ``path`` (``#`` comments and blank lines skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read witness key file {path}: {type(exc).__name__}") from exc
    lines = [line.strip() for line in text.splitlines()]
    keys = tuple(CosignerKey.parse(line) for line in lines if line and not line.startswith("#"))
    if not keys:
        raise AuditError(f"witness key file {path} holds no key")
    return keys
