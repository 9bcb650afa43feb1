"""How a waiter polls the store: exponential backoff, optionally bounded."""

from __future__ import annotations


class Backoff:
    """Poll delays that double from ``initial_s`` up to ``max_s``.

    ``timeout_s`` bounds the total time slept (not wall time, which a frozen clock in
    tests would never advance); None means wait until the hold is decided or expires.
    """

    def __init__(self, initial_s: float, max_s: float, timeout_s: float | None = None) -> None:
        if initial_s <= 0:
            raise ValueError(f"poll_initial_s must be > 0, got {initial_s}")
        if max_s < initial_s:
            raise ValueError(f"poll_max_s ({max_s}) must be >= poll_initial_s ({initial_s})")
        if timeout_s is not None and timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s}")
        self._delay = initial_s
        self._max_s = max_s
        self._timeout_s = timeout_s
        self._slept_s = 0.0

    @property
    def exhausted(self) -> bool:
        """True once the waiter has slept its whole timeout."""
        return self._timeout_s is not None and self._slept_s >= self._timeout_s

    def next_delay(self) -> float:
        """How long to sleep before the next poll (and account for it)."""
        delay = self._delay
        if self._timeout_s is not None:
            delay = min(delay, self._timeout_s - self._slept_s)
        self._slept_s += delay
        self._delay = min(self._delay * 2, self._max_s)
        return delay
