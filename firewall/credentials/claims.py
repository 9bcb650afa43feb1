"""The capability token format, shared by the minter and the verifier.

A compact JWS (RFC 7515) signed with EdDSA over Ed25519 (RFC 8037): a JWT (RFC 7519) that
any JOSE library verifies. Header ``{"alg": "EdDSA", "kid": <key id>, "typ":
"fw-capability+jwt"}`` (explicitly typed, RFC 8725 section 3.11, so no other JWT signed by
the same key passes as a capability); payload: the RFC 8785 canonical JSON of
:class:`CapabilityClaims` without ``kid`` (registered claims ``aud``, ``sub``, ``iat``,
``exp``, ``jti``, plus ``tenant``, ``tool``, ``scope``, ``call_id``, ``args_digest``,
``constraints``). The token binds one call: tool, scope, call id, the digest of the
approved arguments (``sha256:`` + hex SHA-256 of their RFC 8785 JSON), constraints such as
the largest amount, a short expiry and a single-use id (``jti``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import Field

from firewall.canonical import canonical_json
from firewall.errors import FirewallError
from firewall.types import Frozen

TOKEN_TYPE = "fw-capability+jwt"  # noqa: S105 - a media type, not a secret
ALGORITHM = "EdDSA"
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


def payload_of(claims: CapabilityClaims) -> bytes:
    """The JWS payload: the claims' canonical JSON; the key id goes in the header."""
    return canonical_json(claims.model_dump(mode="json", exclude={"kid"}))


def scope_covers(held: str, required: str) -> bool:
    """``refunds:*`` covers ``refunds:write``; otherwise scopes must match exactly."""
    return held == required or (held.endswith(":*") and required.startswith(held[:-1]))
