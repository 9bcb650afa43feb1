"""Reversible tokens: the model sees ``<EMAIL_3f9a0c1b2d4e>``, the tool gets the real value.

A token is bound to one (tenant, session) scope and expires; resolving it from another
scope, or after expiry, is refused. The same value in the same scope gets the same token.

The vault also remembers where each value came from: every tool whose output showed it,
with that output's labels (:class:`TokenSource`). Sources only accumulate, per value and
scope, across tokens: a value once seen in untrusted content stays tainted, whichever
tool shows it later and whatever token it gets after the first one expired. Policies
read this provenance to keep untrusted content from choosing where data goes.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

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


@dataclass(frozen=True, order=True)
class TokenSource:
    """A tool whose output showed a value, and the labels that output carried."""

    tool: str
    labels: tuple[str, ...] = ()

    @classmethod
    def of(cls, tool: str, labels: Iterable[str] = ()) -> TokenSource:
        """A source with its labels sorted and deduplicated (equal sources compare equal)."""
        return cls(tool, tuple(sorted(set(labels))))


Provenance = frozenset[TokenSource]
"""Every source that ever showed a value in one scope."""


class TokenVault(Protocol):
    """Tokens and their provenance, per (tenant, session) scope (memory or shared twins).

    Provenance only grows, so a shared twin can keep it as one set per scope and keyed
    digest of the value (Redis ``SADD``: concurrent workers' sightings all survive).
    """

    def tokenize(
        self, scope: TokenScope, kind: str, value: str, source: TokenSource | None = None
    ) -> str:
        """The token standing for ``value`` in ``scope``; ``source`` joins its provenance."""
        ...

    def resolve(self, scope: TokenScope, token: str) -> str:
        """The real value of ``token``; :class:`TokenError` unless valid in ``scope``."""
        ...

    def provenance(self, scope: TokenScope, token: str) -> Provenance:
        """Where ``token``'s value came from; :class:`TokenError` unless valid in ``scope``."""
        ...

    def seen(self, scope: TokenScope, token: str, source: TokenSource) -> None:
        """``token`` itself appeared in ``source``'s output: add it to the value's provenance."""
        ...


@dataclass(frozen=True)
class _Entry:
    scope: TokenScope
    value: str
    expires_at: datetime


class MemoryTokenVault:
    """Tokens in process memory (one agent process); thread-safe.

    Provenance is kept per (scope, value) rather than per token, so it outlives a token's
    expiry and is shared by every kind the value was found as.
    """

    def __init__(self, clock: Callable[[], datetime], ttl_s: float = 3600) -> None:
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_s)
        self._by_token: dict[str, _Entry] = {}
        self._by_value: dict[tuple[TokenScope, str, str], str] = {}
        self._sources: dict[tuple[TokenScope, str], Provenance] = {}
        self._lock = threading.Lock()

    def tokenize(
        self, scope: TokenScope, kind: str, value: str, source: TokenSource | None = None
    ) -> str:
        """The token standing for ``value`` in ``scope`` (reused while it is valid)."""
        now = self._clock()
        with self._lock:
            if source is not None:
                self._add_source(scope, value, source)
            existing = self._by_value.get((scope, kind, value))
            if existing and self._by_token[existing].expires_at > now:
                return existing
            token = f"<{kind}_{secrets.token_hex(6)}>"
            self._by_token[token] = _Entry(scope, value, now + self._ttl)
            self._by_value[(scope, kind, value)] = token
            return token

    def resolve(self, scope: TokenScope, token: str) -> str:
        """The real value of ``token``; :class:`TokenError` unless valid in ``scope``."""
        return self._valid_entry(scope, token).value

    def provenance(self, scope: TokenScope, token: str) -> Provenance:
        """Where ``token``'s value came from; :class:`TokenError` unless valid in ``scope``."""
        entry = self._valid_entry(scope, token)
        with self._lock:
            return self._sources.get((scope, entry.value), frozenset())

    def seen(self, scope: TokenScope, token: str, source: TokenSource) -> None:
        """``token`` appeared in ``source``'s output; a token not valid here is left alone.

        A foreign, unknown or expired token is refused wherever the model passes it, so
        there is no provenance to keep for it.
        """
        try:
            entry = self._valid_entry(scope, token)
        except TokenError:
            return
        with self._lock:
            self._add_source(scope, entry.value, source)

    def _add_source(self, scope: TokenScope, value: str, source: TokenSource) -> None:
        known = self._sources.get((scope, value), frozenset())
        if source not in known:
            self._sources[(scope, value)] = known | {source}

    def _valid_entry(self, scope: TokenScope, token: str) -> _Entry:
        with self._lock:
            entry = self._by_token.get(token)
        if entry is None:
            raise TokenError(token, "is unknown")
        if entry.scope != scope:
            raise TokenError(token, "belongs to another session")
        if entry.expires_at <= self._clock():
            raise TokenError(token, "has expired")
        return entry
