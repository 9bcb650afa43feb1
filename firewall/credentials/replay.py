"""Single use of capability tokens: remember each token id until it expires.

``RedisReplayCache`` (``SET NX EX``) lets every replica of a downstream service share
the memory; ``MemoryReplayCache`` serves one process.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from firewall.errors import MissingDependencyError


class ReplayCache(Protocol):
    """Records token ids; a second use of one id within its lifetime is refused."""

    def first_use(self, jti: str, ttl_s: int) -> bool:
        """Record ``jti`` for ``ttl_s`` seconds; False if it was already recorded."""
        ...


class MemoryReplayCache:
    """Token ids seen by this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def first_use(self, jti: str, ttl_s: int) -> bool:
        now = time.time()
        with self._lock:
            for old in [key for key, until in self._seen.items() if until <= now]:
                del self._seen[old]
            if jti in self._seen:
                return False
            self._seen[jti] = now + max(ttl_s, 1)
            return True


class RedisReplayCache:
    """Token ids in Redis, shared by every replica: ``SET <prefix>:<jti> 1 NX EX ttl``."""

    def __init__(
        self, url: str, *, prefix: str = "firewall:capability:jti", timeout_s: float = 0.5
    ) -> None:
        try:
            import redis  # noqa: PLC0415 - optional extra
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise MissingDependencyError("redis", "redis") from exc
        self._prefix = prefix
        self._client: Any = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )

    def first_use(self, jti: str, ttl_s: int) -> bool:
        return bool(self._client.set(f"{self._prefix}:{jti}", b"1", nx=True, ex=max(ttl_s, 1)))

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
