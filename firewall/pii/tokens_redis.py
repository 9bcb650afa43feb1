"""Tokens shared by every worker through Redis, their values encrypted (extra ``[redis]``).

A conversation's calls may land on any worker: a token shown by worker A must resolve on
worker B. Redis holds, per token, only the value encrypted with AES-256-GCM under a key
the workers hold (``[pii] token_key``), bound by the GCM associated data to the token and
its (tenant, session) scope: a token copied into another scope's entry, or an entry moved
to another token, fails authentication. Nothing in Redis names a value in clear: the
lookup from value to token and the value's provenance are keyed by HMACs of the value
under a key derived from the same secret.

``<prefix>:tok:<token>``          base64 of nonce + ciphertext, expires with the token
``<prefix>:tokv:<hmac>``           the token of (scope, kind, value), expires a little sooner
``<prefix>:toks:<hmac>``           provenance of (scope, value): a set, only ever added to

Failing closed: if Redis cannot answer, every method raises :class:`StoreError`; the gate
refuses a call whose tokens it cannot resolve and withholds output it cannot protect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from firewall.containment.stores import describe_url, redis_client
from firewall.errors import ConfigError, StoreError
from firewall.pii.tokens import Provenance, TokenError, TokenScope, TokenSource

KEY_BYTES = 32
NONCE_BYTES = 12
PROVENANCE_TTL_S = 7 * 24 * 3600
"""Provenance outlives tokens (a value once tainted stays tainted) but not forever."""

# Atomic "same value, same token while it is valid": a second worker tokenizing the same
# value in the same scope gets the first one's token, never a second one.
_TOKENIZE = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return ARGV[1]
"""


def token_key_of(secret: str) -> bytes:
    """The 32-byte key in ``secret`` (64 hex digits); ConfigError naming what is wrong."""
    try:
        key = bytes.fromhex(secret.strip())
    except ValueError:
        raise ConfigError("pii.token_key", "the token key is not hex") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(
            "pii.token_key", f"the token key must be {KEY_BYTES} bytes (64 hex digits)"
        )
    return key


class RedisTokenVault:
    """A :class:`~firewall.pii.tokens.TokenVault` in Redis, shared by every worker."""

    def __init__(
        self,
        url: str,
        key: bytes,
        *,
        ttl_s: float = 3600,
        key_prefix: str = "firewall",
        timeout_s: float = 0.5,
    ) -> None:
        import redis  # noqa: PLC0415 - optional extra, checked by redis_client

        self._client = redis_client(url, timeout_s)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._where = describe_url(url)
        self._cipher = AESGCM(_derive(key, b"token-values"))
        self._index_key = _derive(key, b"token-index")
        self.commitment_key = _derive(key, b"commitments")
        """The key of the commitments (``<EMAIL#…>``) every worker sharing this vault makes."""
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._prefix = key_prefix
        self._tokenize = self._client.register_script(_TOKENIZE)

    def tokenize(
        self, scope: TokenScope, kind: str, value: str, source: TokenSource | None = None
    ) -> str:
        """The token standing for ``value`` in ``scope`` (the same on every worker)."""
        candidate = f"<{kind}_{secrets.token_hex(6)}>"
        sealed = self._seal(scope, candidate, value)
        index = self._key("tokv", self._index(scope, kind, value))
        # The index expires before the token, so it never names a token already gone.
        index_ttl = max(1, self._ttl_ms - min(1000, self._ttl_ms // 10))
        token = self._answer(
            self._tokenize,
            keys=[index, self._key("tok", candidate)],
            args=[candidate, sealed, self._ttl_ms, index_ttl],
        )
        if source is not None:
            self._add_source(scope, value, source)
        return str(token)

    def resolve(self, scope: TokenScope, token: str) -> str:
        """The real value of ``token``; :class:`TokenError` unless valid in ``scope``."""
        sealed = self._answer(self._client.get, self._key("tok", token))
        if sealed is None:
            raise TokenError(token, "is unknown or has expired")
        return self._open(scope, token, sealed)

    def provenance(self, scope: TokenScope, token: str) -> Provenance:
        """Where ``token``'s value came from; :class:`TokenError` unless valid in ``scope``."""
        value = self.resolve(scope, token)
        members = self._answer(self._client.smembers, self._sources_key(scope, value))
        return frozenset(_source_of(member) for member in members)

    def seen(self, scope: TokenScope, token: str, source: TokenSource) -> None:
        """``token`` appeared in ``source``'s output; a token not valid here is left alone."""
        try:
            value = self.resolve(scope, token)
        except TokenError:
            return
        self._add_source(scope, value, source)

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _add_source(self, scope: TokenScope, value: str, source: TokenSource) -> None:
        key = self._sources_key(scope, value)
        member = json.dumps([source.tool, list(source.labels)], separators=(",", ":"))
        pipe = self._client.pipeline(transaction=True)
        pipe.sadd(key, member)
        pipe.expire(key, PROVENANCE_TTL_S)
        self._answer(pipe.execute)

    def _seal(self, scope: TokenScope, token: str, value: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._cipher.encrypt(nonce, value.encode("utf-8"), _bound(scope, token))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def _open(self, scope: TokenScope, token: str, stored: str) -> str:
        try:
            sealed = base64.b64decode(stored, validate=True)
            nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
            plain = self._cipher.decrypt(nonce, ciphertext, _bound(scope, token))
        except (InvalidTag, binascii.Error, ValueError):
            # Another scope's token, an entry moved between tokens, or another key.
            raise TokenError(token, "belongs to another session") from None
        return plain.decode("utf-8")

    def _index(self, scope: TokenScope, *parts: str) -> str:
        message = json.dumps([scope.tenant, scope.session_id, *parts]).encode("utf-8")
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def _sources_key(self, scope: TokenScope, value: str) -> str:
        return self._key("toks", self._index(scope, "sources", value))

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}:{kind}:{name}"

    def _answer(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except self._errors as exc:
            raise StoreError(
                f"personal-data token vault unavailable ({self._where}: {type(exc).__name__})"
            ) from None


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, purpose, hashlib.sha256).digest()


def _bound(scope: TokenScope, token: str) -> bytes:
    """The associated data: a value opens only for its token in its scope."""
    return json.dumps([scope.tenant, scope.session_id, token]).encode("utf-8")


def _source_of(member: str) -> TokenSource:
    tool, labels = json.loads(member)
    return TokenSource.of(str(tool), (str(label) for label in labels))
