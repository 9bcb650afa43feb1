"""The background thread that seals deferred events (outcome records) soon after they queue.

It seals an event only once it has waited ``linger_s``: in a busy process the next
decision's transaction carries the outcomes before that (no commit, fsync or signature
of their own), and this thread never commits; in an idle one they are still written
within about ``linger_s``. A crash inside that window leaves the call "in
doubt", exactly as a crash between the tool and a synchronous outcome append would.
"""

from __future__ import annotations

import threading

import structlog

from firewall.audit.group import GroupCommit

DEFAULT_LINGER_S = 0.02
CLOSE_WAIT_S = 30.0
log = structlog.get_logger("firewall.audit")


class BackgroundFlusher:
    """Seals what ``group`` has deferred, at most ``linger_s`` after it was queued."""

    def __init__(self, group: GroupCommit, linger_s: float = DEFAULT_LINGER_S) -> None:
        self._group = group
        self._linger_s = linger_s
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def notify(self) -> None:
        """Something was deferred: seal it within ``linger_s`` (starts the thread once)."""
        if self._thread is None:
            self._start()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread and seal whatever is still queued, in the caller's thread."""
        self._closing.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_WAIT_S)
        self._group.flush()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._closing.is_set():
                thread = threading.Thread(
                    target=self._loop, name="firewall-audit-flusher", daemon=True
                )
                thread.start()
                self._thread = thread

    def _loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait()
            self._wake.clear()  # before looking: whatever is deferred from now on wakes us
            while not self._closing.is_set():
                age = self._group.deferred_age()
                if not age:
                    break  # nothing left: the next decision carried it, or we flushed
                if age < self._linger_s:
                    self._closing.wait(self._linger_s - age)  # cut short by close()
                    continue
                self._flush()
        self._flush()

    def _flush(self) -> None:
        try:
            self._group.flush()
        except Exception:  # keep serving; failures were reported per event
            log.exception("audit_flush_failed")
