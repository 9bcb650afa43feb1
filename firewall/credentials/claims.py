"""The capability token format, shared by the minter and the verifier.

``v1.<base64url(payload)>.<base64url(signature)>``: the payload is the RFC 8785
canonical JSON of :class:`CapabilityClaims`; the Ed25519 signature covers
``v1.<payload>``. The token binds one call: tool, scope, call id, the digest of the
approved arguments, constraints such as the largest amount, a short expiry and a
single-use id (``jti``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import Field, ValidationError

from firewall.canonical import canonical_json
from firewall.errors import FirewallError
from firewall.types import Frozen

TOKEN_VERSION = "v1"  # noqa: S105 - a format tag, not a secret
MAX_TOKEN_CHARS = 4096


class TokenRejectedError(FirewallError):
    """A capability token was refused; ``code`` says why, machine-readably.

    Codes: ``malformed``, ``unknown_key``, ``bad_signature``, ``wrong_audience``,
    ``wrong_tool``, ``wrong_scope``, ``not_yet_valid``, ``expired``, ``args_mismatch``,
    ``over_limit``, ``replayed``, ``replay_cache_unavailable``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"capability token refused ({code}): {message}")
        self.code = code


class CapabilityClaims(Frozen):
    """What a capability token allows: this call of this tool, these args, until ``exp``."""

    kid: str
    aud: str
    sub: str = Field(description="The agent the call is made for.")
    tenant: str
    tool: str
    scope: str
    call_id: str
    args_digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    constraints: dict[str, Any] = Field(default_factory=dict)
    iat: int
    exp: int
    jti: str


def kid_of(public_key: Ed25519PublicKey) -> str:
    """The key id: ``ed25519:`` and 16 hex digits of the SHA-256 of the raw public key."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def b64encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict base64url without padding; ValueError otherwise."""
    if not text or any(c not in _B64_CHARS for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def signing_input(claims: CapabilityClaims) -> str:
    """``v1.<base64url(canonical payload)>``: what the signature covers."""
    return f"{TOKEN_VERSION}.{b64encode(canonical_json(claims.model_dump(mode='json')))}"


def split_token(token: str) -> tuple[CapabilityClaims, bytes, bytes]:
    """The claims, signed bytes and signature of ``token``; TokenRejectedError if malformed."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejectedError("malformed", f"token longer than {MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise TokenRejectedError("malformed", f"expected {TOKEN_VERSION}.<payload>.<signature>")
    try:
        payload, signature = b64decode(parts[1]), b64decode(parts[2])
        claims = CapabilityClaims.model_validate_json(payload)
    except (ValueError, ValidationError) as exc:
        raise TokenRejectedError(
            "malformed", f"unreadable payload or signature ({type(exc).__name__})"
        ) from None
    return claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def scope_covers(held: str, required: str) -> bool:
    """``refunds:*`` covers ``refunds:write``; otherwise scopes must match exactly."""
    return held == required or (held.endswith(":*") and required.startswith(held[:-1]))
