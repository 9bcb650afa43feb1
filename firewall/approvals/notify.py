"""Waking waiters early when a hold changes: optional, the store stays the only truth.

A :class:`DecisionNotifier` publishes "hold X changed" after every change of a hold, and
lets a waiter sleep until such a message (or its poll delay) arrives. Waiters subscribe
*before* they read the store, so a change between the read and the sleep is never
missed; a lost message costs one poll delay, never a wrong decision. Redis pub/sub is
the shipped backend; any Redis failure degrades to plain sleeping.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Protocol

import structlog

log = structlog.get_logger("firewall.approvals")

DEFAULT_PREFIX = "firewall:holds"


class Wakeup(Protocol):
    """A subscription: sleep up to ``timeout_s``, returning early when a hold changed."""

    def wait(self, timeout_s: float) -> bool:
        """Sleep until a change is announced (True) or the timeout passes (False)."""
        ...


class AsyncWakeup(Protocol):
    """The async twin of :class:`Wakeup`; it never blocks the event loop."""

    async def wait(self, timeout_s: float) -> bool:
        """Sleep until a change is announced (True) or the timeout passes (False)."""
        ...


class DecisionNotifier(Protocol):
    """Announces changes of holds; ``hold_id=None`` subscribes to every hold."""

    def publish(self, hold_id: str) -> None:
        """Announce that ``hold_id`` changed; never raises (notification is best effort)."""
        ...

    def subscribe(self, hold_id: str | None) -> AbstractContextManager[Wakeup]:
        """Listen for changes of ``hold_id`` (or of any hold) while the block runs."""
        ...

    def asubscribe(self, hold_id: str | None) -> AbstractAsyncContextManager[AsyncWakeup]:
        """The async twin of :meth:`subscribe`."""
        ...


class Sleeper:
    """The wakeup of a waiter without a notifier: it just sleeps."""

    def wait(self, timeout_s: float) -> bool:
        """Sleep ``timeout_s``; nothing ever wakes it early."""
        time.sleep(timeout_s)
        return False


class AsyncSleeper:
    """The async twin of :class:`Sleeper`."""

    async def wait(self, timeout_s: float) -> bool:
        """Sleep ``timeout_s`` without blocking the loop."""
        await asyncio.sleep(timeout_s)
        return False


def channel_of(prefix: str, hold_id: str | None) -> str:
    """The pub/sub channel of one hold, or the pattern matching every hold."""
    return f"{prefix}:{hold_id}" if hold_id is not None else f"{prefix}:*"


def notifier_from_url(url: str | None) -> DecisionNotifier | None:
    """The notifier at ``url`` (``redis://...``), or None when no URL is configured."""
    if not url:
        return None
    from firewall.approvals.redis_notify import RedisNotifier  # noqa: PLC0415 - optional driver

    return RedisNotifier(url)
