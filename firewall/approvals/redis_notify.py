"""Redis pub/sub notification of hold changes (extra ``[redis]``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from firewall.approvals.notify import (
    DEFAULT_PREFIX,
    AsyncSleeper,
    AsyncWakeup,
    Sleeper,
    Wakeup,
    channel_of,
    log,
)
from firewall.errors import MissingDependencyError

try:
    import redis
    import redis.asyncio as aredis
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingDependencyError("redis", "redis") from exc

SOCKET_TIMEOUT_S = 5.0
CONFIRM_TIMEOUT_S = 1.0


class RedisNotifier:
    """Publishes hold changes on ``<prefix>:<hold_id>``; waiters subscribe to them."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self._url = url
        self._prefix = prefix
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=SOCKET_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S
        )

    @property
    def prefix(self) -> str:
        """The channel prefix: ``<prefix>:<hold_id>``."""
        return self._prefix

    def publish(self, hold_id: str) -> None:
        """Announce a change of ``hold_id``; a Redis failure is logged, never raised."""
        try:
            self._client.publish(channel_of(self._prefix, hold_id), hold_id)
        except redis.RedisError as exc:
            log.warning("hold_notify_failed", hold_id=hold_id, error=type(exc).__name__)

    @contextmanager
    def subscribe(self, hold_id: str | None) -> Iterator[Wakeup]:
        """Listen for changes of ``hold_id`` (or any hold); degrade to sleeping on failure."""
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            _listen(pubsub, channel_of(self._prefix, hold_id), hold_id is None)
            pubsub.get_message(timeout=CONFIRM_TIMEOUT_S)  # swallow the confirmation
        except redis.RedisError as exc:
            log.warning("hold_subscribe_failed", hold_id=hold_id, error=type(exc).__name__)
            pubsub.close()
            yield Sleeper()
            return
        try:
            yield _RedisWakeup(pubsub)
        finally:
            pubsub.close()

    @asynccontextmanager
    async def asubscribe(self, hold_id: str | None) -> AsyncIterator[AsyncWakeup]:
        """The async twin of :meth:`subscribe`, on a client of the running loop."""
        client = aredis.Redis.from_url(
            self._url, socket_connect_timeout=SOCKET_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            try:
                await _alisten(pubsub, channel_of(self._prefix, hold_id), hold_id is None)
                await pubsub.get_message(timeout=CONFIRM_TIMEOUT_S)
            except redis.RedisError as exc:
                log.warning("hold_subscribe_failed", hold_id=hold_id, error=type(exc).__name__)
                yield AsyncSleeper()
                return
            yield _AsyncRedisWakeup(pubsub)
        finally:
            await pubsub.aclose()
            await client.aclose()

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()


def _listen(pubsub: Any, channel: str, pattern: bool) -> None:
    if pattern:
        pubsub.psubscribe(channel)
    else:
        pubsub.subscribe(channel)


async def _alisten(pubsub: Any, channel: str, pattern: bool) -> None:
    if pattern:
        await pubsub.psubscribe(channel)
    else:
        await pubsub.subscribe(channel)


class _RedisWakeup:
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub
        self._fallback = Sleeper()

    def wait(self, timeout_s: float) -> bool:
        try:
            return self._pubsub.get_message(timeout=timeout_s) is not None
        except redis.RedisError as exc:
            log.warning("hold_wakeup_failed", error=type(exc).__name__)
            return self._fallback.wait(timeout_s)


class _AsyncRedisWakeup:
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub
        self._fallback = AsyncSleeper()

    async def wait(self, timeout_s: float) -> bool:
        try:
            return await self._pubsub.get_message(timeout=timeout_s) is not None
        except redis.RedisError as exc:
            log.warning("hold_wakeup_failed", error=type(exc).__name__)
            return await self._fallback.wait(timeout_s)
