"""Minting capability tokens: an Ed25519 key and a minter bound to it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from firewall.canonical import digest
from firewall.credentials.claims import (
    ALGORITHM,
    TOKEN_TYPE,
    CapabilityClaims,
    kid_of,
    payload_of,
)
from firewall.errors import ConfigError
from firewall.types import ToolCall, ToolSpec, new_id

KEY_FILE_MODE = 0o600


class SigningKey:
    """The Ed25519 key that signs capability tokens; its repr shows only the key id."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key = private_key.public_key()
        self.kid = kid_of(self.public_key)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path, *, create: bool = False) -> SigningKey:
        """The key in the PEM file ``path``; with ``create``, a new one written there (0600)."""
        if not path.exists() and create:
            key = cls.generate()
            key.save(path)
            return key
        try:
            private = load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(
                str(path), f"cannot read the signing key ({type(exc).__name__})"
            ) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigError(str(path), "the signing key is not an Ed25519 key")
        return cls(private)

    def save(self, path: Path) -> None:
        """Write the private key (PEM, mode 0600) and the public key next to it (``.pub``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = self._private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        path.with_suffix(path.suffix + ".pub").write_bytes(self.public_pem())

    def public_pem(self) -> bytes:
        """The public key as PEM, for downstream verifiers."""
        return self.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def sign_jws(self, payload: bytes) -> str:
        """``payload`` as a compact JWS (EdDSA) whose header names this key and the token type."""
        return jwt.api_jws.encode(
            payload,
            self._private,
            algorithm=ALGORITHM,
            headers={"kid": self.kid, "typ": TOKEN_TYPE},
        )


def constraints_of(call: ToolCall, spec: ToolSpec) -> dict[str, Any]:
    """What the token promises beyond the exact args: the largest amount it may move."""
    if spec.money_arg is None or spec.money_arg not in call.args:
        return {}
    return {"money_arg": spec.money_arg, "max_amount": call.args[spec.money_arg]}


class CapabilityMinter:
    """Mints one short-lived, single-use token per allowed call."""

    def __init__(self, key: SigningKey, ttl_s: int = 60) -> None:
        self.key = key
        self.ttl_s = ttl_s

    def mint(
        self, call: ToolCall, spec: ToolSpec, *, audience: str, ttl_s: int | None = None
    ) -> tuple[str, CapabilityClaims]:
        """The token for ``call`` (and its claims), valid for ``ttl_s`` seconds, once."""
        issued = int(time.time())
        claims = CapabilityClaims(
            kid=self.key.kid,
            aud=audience,
            sub=call.principal.agent_id,
            tenant=call.principal.tenant,
            tool=call.tool,
            scope=spec.scope,
            call_id=call.call_id,
            args_digest=digest(call.args),
            constraints=constraints_of(call, spec),
            iat=issued,
            exp=issued + (ttl_s or self.ttl_s),
            jti=new_id("cap"),
        )
        return self.key.sign_jws(payload_of(claims)), claims
