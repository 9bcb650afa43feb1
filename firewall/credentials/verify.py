"""Verify a capability token in a downstream service (import this module alone).

    verifier = CapabilityVerifier(load_public_keys(pem), RedisReplayCache(url),
                                  audience="payments")
    claims = verifier.verify(token, tool="issue_refund", scope="refunds:write",
                             args=request_args)

The token is a JWT signed with EdDSA (see :mod:`firewall.credentials.claims`); PyJWT
checks format, signature, audience and validity period, then this module the tool, scope,
the digest of the arguments, the amount constraint, and single use. Any failure raises
:class:`TokenRejectedError` with a ``code``; nothing is consumed unless the token passed
every other check.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import ValidationError

from firewall.canonical import digest
from firewall.credentials.claims import (
    ALGORITHM,
    MAX_TOKEN_CHARS,
    TOKEN_TYPE,
    CapabilityClaims,
    TokenRejectedError,
    kid_of,
    scope_covers,
)
from firewall.credentials.replay import ReplayCache

__all__ = ["CapabilityClaims", "CapabilityVerifier", "TokenRejectedError", "load_public_keys"]

PEM_END = b"-----END PUBLIC KEY-----"


def load_public_keys(pem: bytes | str) -> dict[str, Ed25519PublicKey]:
    """Ed25519 public keys (one or more concatenated PEM blocks), by key id."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    keys: dict[str, Ed25519PublicKey] = {}
    for block in data.split(PEM_END)[:-1]:
        key = load_pem_public_key(block + PEM_END)
        if not isinstance(key, Ed25519PublicKey):
            raise TypeError("capability keys must be Ed25519 public keys")
        keys[kid_of(key)] = key
    return keys


class CapabilityVerifier:
    """Accepts a token once, for the call it was minted for, before it expires."""

    def __init__(
        self,
        public_keys: Mapping[str, Ed25519PublicKey] | Iterable[Ed25519PublicKey],
        replay: ReplayCache,
        *,
        audience: str,
        leeway_s: int = 0,
    ) -> None:
        items = public_keys.values() if isinstance(public_keys, Mapping) else public_keys
        self._keys = {kid_of(key): key for key in items}
        self._replay = replay
        self._audience = audience
        self._leeway_s = leeway_s

    def verify(
        self, token: str, *, tool: str, scope: str, args: Mapping[str, Any]
    ) -> CapabilityClaims:
        """The token's claims if it authorises exactly this call now; else TokenRejectedError."""
        claims = self._signed_claims(token)
        self._check_binding(claims, tool, scope)
        self._check_args(claims, args)
        self._consume(claims)
        return claims

    def _signed_claims(self, token: str) -> CapabilityClaims:
        key = self._keys.get(_key_id(token))
        if key is None:
            raise TokenRejectedError("unknown_key", f"no trusted key has id {_key_id(token)!r}")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                leeway=self._leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.InvalidTokenError as exc:
            raise _refusal(exc) from None
        try:
            return CapabilityClaims.model_validate({**payload, "kid": kid_of(key)})
        except ValidationError as exc:
            raise TokenRejectedError(
                "malformed", f"unreadable claims ({exc.error_count()} error(s))"
            ) from None

    def _check_binding(self, claims: CapabilityClaims, tool: str, scope: str) -> None:
        if claims.aud != self._audience:
            raise TokenRejectedError(
                "wrong_audience", f"minted for {claims.aud!r}, not {self._audience!r}"
            )
        if claims.tool != tool:
            raise TokenRejectedError("wrong_tool", f"minted for tool {claims.tool!r}, not {tool!r}")
        if not scope_covers(claims.scope, scope):
            raise TokenRejectedError(
                "wrong_scope", f"scope {claims.scope!r} does not cover {scope!r}"
            )

    def _check_args(self, claims: CapabilityClaims, args: Mapping[str, Any]) -> None:
        try:
            presented = digest(dict(args))
        except (TypeError, ValueError):
            raise TokenRejectedError(
                "args_mismatch", "the arguments are not canonical JSON"
            ) from None
        if presented != claims.args_digest:
            raise TokenRejectedError("args_mismatch", "the arguments differ from the approved call")
        money_arg = claims.constraints.get("money_arg")
        limit = claims.constraints.get("max_amount")
        if money_arg is not None and limit is not None:
            amount = args.get(money_arg)
            if not _at_most(amount, limit):
                raise TokenRejectedError("over_limit", f"{money_arg} {amount!r} exceeds {limit!r}")

    def _consume(self, claims: CapabilityClaims) -> None:
        ttl = max(1, claims.exp - int(time.time()) + self._leeway_s + 1)
        try:
            first = self._replay.first_use(claims.jti, ttl)
        except Exception as exc:  # noqa: BLE001 - cannot prove single use: refuse
            raise TokenRejectedError(
                "replay_cache_unavailable", f"cannot record the token's use ({type(exc).__name__})"
            ) from None
        if not first:
            raise TokenRejectedError("replayed", f"token {claims.jti} was already used")


REQUIRED_CLAIMS = ("aud", "sub", "iat", "exp", "jti")
_REFUSALS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
)


def _key_id(token: str) -> str:
    """The ``kid`` of a well-formed capability token's header; TokenRejectedError otherwise."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejectedError("malformed", f"token longer than {MAX_TOKEN_CHARS} characters")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenRejectedError("malformed", "not a compact JWS") from None
    if header.get("typ") != TOKEN_TYPE or header.get("alg") != ALGORITHM:
        raise TokenRejectedError(
            "malformed", f"expected a {TOKEN_TYPE} token signed with {ALGORITHM}"
        )
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenRejectedError("malformed", "the header names no key id")
    return kid


def _refusal(exc: jwt.InvalidTokenError) -> TokenRejectedError:
    for kind, code in _REFUSALS:
        if isinstance(exc, kind):
            return TokenRejectedError(code, str(exc))
    return TokenRejectedError("malformed", f"{type(exc).__name__}: {exc}")


def _at_most(amount: object, limit: object) -> bool:
    try:
        return Decimal(str(amount)) <= Decimal(str(limit))
    except InvalidOperation:
        return False
