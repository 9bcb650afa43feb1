"""Reversible tokens: the model sees ``<EMAIL_3f9a0c1b2d4e>``, the tool gets the real value.

A token is bound to one (tenant, session) scope and expires; resolving it from another
scope, or after expiry, is refused. The same value in the same scope gets the same token.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from firewall.errors import FirewallError

TOKEN = re.compile(r"<([A-Z_]+)_([0-9a-f]{12})>")


class TokenError(FirewallError):
    """A token could not be resolved; ``reason`` says why (unknown, foreign, expired)."""

    def __init__(self, token: str, reason: str) -> None:
        super().__init__(f"token {token} {reason}")
        self.token = token
        self.reason = reason


@dataclass(frozen=True)
class TokenScope:
    """Where a token is valid: one tenant's one session."""

    tenant: str
    session_id: str


@dataclass(frozen=True)
class _Entry:
    scope: TokenScope
    value: str
    expires_at: datetime


class MemoryTokenVault:
    """Tokens in process memory (one agent process); thread-safe."""

    def __init__(self, clock: Callable[[], datetime], ttl_s: float = 3600) -> None:
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_s)
        self._by_token: dict[str, _Entry] = {}
        self._by_value: dict[tuple[TokenScope, str, str], str] = {}
        self._lock = threading.Lock()

    def tokenize(self, scope: TokenScope, kind: str, value: str) -> str:
        """The token standing for ``value`` in ``scope`` (reused while it is valid)."""
        now = self._clock()
        with self._lock:
            existing = self._by_value.get((scope, kind, value))
            if existing and self._by_token[existing].expires_at > now:
                return existing
            token = f"<{kind}_{secrets.token_hex(6)}>"
            self._by_token[token] = _Entry(scope, value, now + self._ttl)
            self._by_value[(scope, kind, value)] = token
            return token

    def resolve(self, scope: TokenScope, token: str) -> str:
        """The real value of ``token``; :class:`TokenError` unless valid in ``scope``."""
        with self._lock:
            entry = self._by_token.get(token)
        if entry is None:
            raise TokenError(token, "is unknown")
        if entry.scope != scope:
            raise TokenError(token, "belongs to another session")
        if entry.expires_at <= self._clock():
            raise TokenError(token, "has expired")
        return entry.value
