"""Ed25519 keys in the signed-note text format (C2SP signed-note, Go's ``x/mod/sumdb/note``).

A verifier key reads ``<name>+<hash>+<base64(0x01 || public key)>``; a signer key
``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>``. ``hash`` is the key ID: the first
four bytes of ``SHA-256(name || "\\n" || 0x01 || public key)``, in hex. Signatures name it,
so a verifier holding several keys knows which one to try.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from firewall.errors import AuditError

ED25519 = b"\x01"
PRIVATE_PREFIX = "PRIVATE+KEY+"
NEW_NAME_PATTERN = re.compile(r"[!-*,-~]{1,255}")  # printable ASCII, no space, no '+'


def key_hash(name: str, public: bytes) -> int:
    """The 32-bit key ID of ``name`` and the raw Ed25519 ``public`` key."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public).digest()
    return int.from_bytes(digest[:4], "big")


def check_name(name: str) -> str:
    """``name`` if the signed-note spec allows it: non-empty, no Unicode space, no ``+``."""
    if not name or "+" in name or any(char.isspace() or char < " " for char in name):
        raise AuditError(
            f"invalid key name {name[:60]!r}: it must be non-empty, without spaces or '+'"
        )
    return name


def check_new_name(name: str) -> str:
    """``name`` if we may create a key under it: printable ASCII without space or ``+``,
    at most 255 characters, e.g. a schema-less URL like ``example.com/audit``."""
    if NEW_NAME_PATTERN.fullmatch(name) is None:
        raise AuditError(
            f"invalid key name {name[:60]!r}: use 1-255 printable ASCII characters without "
            "spaces or '+', e.g. the log's origin as a schema-less URL (example.com/audit)"
        )
    return name


@dataclass(frozen=True)
class VerifierKey:
    """A public key that checks signatures made under ``name``."""

    name: str
    public: bytes

    @cached_property
    def key_hash(self) -> int:
        """The key ID."""
        return key_hash(self.name, self.public)

    @property
    def key_id(self) -> str:
        """``name+hash``: how reports and checkpoints refer to this key."""
        return f"{self.name}+{self.key_hash:08x}"

    def text(self) -> str:
        """The verifier key line (what auditors keep)."""
        encoded = base64.b64encode(ED25519 + self.public).decode("ascii")
        return f"{self.key_id}+{encoded}"

    @cached_property
    def _public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's signature of ``message``."""
        try:
            self._public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse a verifier key line; :class:`AuditError` names what is wrong."""
        name, hash_text, raw = _split_key(text.strip(), "verifier key")
        key = cls(name=name, public=raw)
        _check_hash(key.key_hash, hash_text, name)
        return key


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key and the name its signatures carry. Never logged."""

    name: str
    seed: bytes

    def __repr__(self) -> str:
        return f"SigningKey(name={self.name!r}, seed=<hidden>)"

    @cached_property
    def verifier(self) -> VerifierKey:
        """The matching public key."""
        public = self._private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(name=self.name, public=public)

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message``."""
        return self._private().sign(message)

    def text(self) -> str:
        """The private key line (written only to a 0600 file)."""
        encoded = base64.b64encode(ED25519 + self.seed).decode("ascii")
        return f"{PRIVATE_PREFIX}{self.verifier.key_id}+{encoded}"

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        """A fresh random key called ``name``."""
        seed = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return cls(name=check_new_name(name), seed=seed)

    @classmethod
    def parse(cls, text: str) -> SigningKey:
        """Parse a private key line; errors never echo the key material."""
        text = text.strip()
        if not text.startswith(PRIVATE_PREFIX):
            raise AuditError(f"not a private key: expected a line starting {PRIVATE_PREFIX!r}")
        name, hash_text, raw = _split_key(text.removeprefix(PRIVATE_PREFIX), "private key")
        key = cls(name=name, seed=raw)
        _check_hash(key.verifier.key_hash, hash_text, name)
        return key

    @cached_property
    def _private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def _private(self) -> Ed25519PrivateKey:
        return self._private_key


def _split_key(text: str, what: str) -> tuple[str, str, bytes]:
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise AuditError(f"malformed {what}: expected name+hash+base64")
    name, hash_text, encoded = parts
    check_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise AuditError(f"malformed {what} {name!r}: bad base64") from exc
    if len(raw) != 33 or raw[:1] != ED25519:
        raise AuditError(f"{what} {name!r} is not an Ed25519 key")
    return name, hash_text, raw[1:]


def _check_hash(actual: int, hash_text: str, name: str) -> None:
    if hash_text != f"{actual:08x}":
        raise AuditError(f"key {name!r}: key ID {hash_text} does not match the key")
