"""Session summaries in Redis, shared by every worker process (extra ``[redis]``).

A session's calls may reach different workers (each run of a LangGraph thread can), and a
taint seen by one must hold in all: untrusted content read on worker A still holds the
refund asked of worker B. Each session is one JSON document, read and rewritten under
``WATCH`` so concurrent workers never lose each other's events, and dropped after
``idle_ttl_s`` without a call.

Failing closed: if Redis cannot answer, :meth:`RedisSessionStore.policy_view` raises and
the policy stage denies. An event Redis could not take is kept in this process and
written before the session's next policy view; until it is, that view raises too, so no
decision here forgets it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from firewall.containment.stores import redis_client
from firewall.errors import SessionStoreError
from firewall.session import RECENT_EVENTS, SessionEvent, SessionSummary, session_view

DEFAULT_IDLE_TTL_S = 7 * 24 * 3600
MAX_WATCH_RETRIES = 50


class RedisSessionStore:
    """``<prefix>:session:<digest of tenant and session id>`` -> the session's summary."""

    def __init__(
        self,
        url: str,
        *,
        recent_events: int = RECENT_EVENTS,
        key_prefix: str = "firewall",
        timeout_s: float = 0.5,
        idle_ttl_s: int = DEFAULT_IDLE_TTL_S,
    ) -> None:
        import redis  # noqa: PLC0415 - optional extra, checked by redis_client

        self._client = redis_client(url, timeout_s)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._watch_error = redis.WatchError
        self._recent_events = recent_events
        self._prefix = key_prefix
        self._ttl = idle_ttl_s
        self._pending: dict[tuple[str, str], list[SessionEvent]] = {}
        self._lock = threading.Lock()

    def policy_view(self, tenant: str, session_id: str) -> dict[str, Any]:
        """``input.session``; :class:`SessionStoreError` if Redis or an unwritten event stops it."""
        self._write_pending(tenant, session_id)
        summary = self._read(tenant, session_id)
        return session_view(session_id, summary)

    def history(self, tenant: str, session_id: str) -> list[SessionEvent]:
        summary = self._read(tenant, session_id)
        return list(summary.recent) if summary else []

    def record(self, tenant: str, session_id: str, event: SessionEvent) -> None:
        """Add ``event``; if Redis cannot take it, keep it here and raise SessionStoreError."""
        try:
            self._write(tenant, session_id, [event])
        except SessionStoreError:
            with self._lock:
                self._pending.setdefault((tenant, session_id), []).append(event)
            raise

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _write_pending(self, tenant: str, session_id: str) -> None:
        with self._lock:
            events = self._pending.pop((tenant, session_id), [])
        if not events:
            return
        try:
            self._write(tenant, session_id, events)
        except SessionStoreError:
            with self._lock:
                later = self._pending.pop((tenant, session_id), [])
                self._pending[(tenant, session_id)] = events + later
            raise

    def _read(self, tenant: str, session_id: str) -> SessionSummary | None:
        try:
            raw = self._client.get(self._key(tenant, session_id))
        except self._errors as exc:
            raise SessionStoreError(f"session store unavailable ({type(exc).__name__})") from exc
        return self._parsed(raw)

    def _write(self, tenant: str, session_id: str, events: list[SessionEvent]) -> None:
        key = self._key(tenant, session_id)
        try:
            with self._client.pipeline() as pipe:
                for _ in range(MAX_WATCH_RETRIES):
                    if self._written(pipe, key, events):
                        return
        except self._errors as exc:
            raise SessionStoreError(f"session store unavailable ({type(exc).__name__})") from exc
        raise SessionStoreError(f"session {session_id!r} too contended to record")

    def _written(self, pipe: Any, key: str, events: list[SessionEvent]) -> bool:
        """Fold ``events`` into the stored summary; False if another worker wrote it meanwhile."""
        pipe.watch(key)
        summary = self._parsed(pipe.get(key)) or SessionSummary.keeping(self._recent_events)
        for event in events:
            summary.add(event)
        pipe.multi()
        pipe.set(key, json.dumps(summary.document()), ex=self._ttl)
        try:
            pipe.execute()
        except self._watch_error:
            return False
        return True

    def _parsed(self, raw: Any) -> SessionSummary | None:
        if raw is None:
            return None
        try:
            return SessionSummary.from_document(json.loads(raw), self._recent_events)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SessionStoreError(f"stored session is unreadable ({type(exc).__name__})") from exc

    def _key(self, tenant: str, session_id: str) -> str:
        digest = hashlib.sha256(f"{tenant}\0{session_id}".encode()).hexdigest()[:40]
        return f"{self._prefix}:session:{digest}"
