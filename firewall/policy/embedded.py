"""The embedded engine: the policy compiled once by regopy (rego-cpp), evaluated in-process.

The policy directory is checked for edits at most every ``reload_interval_s``; an edit
triggers one rebuild. If the rebuild fails, every evaluation raises :class:`PolicyError`
until the files compile again. Keeping the old policy instead would be quieter, but the
operator who just edited the policy (often to revoke something) would believe a rule is
in force that is not, and the audit could not show it; refusing every call is loud,
safe, and names the compile error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import regopy

from firewall.errors import ConfigError, PolicyError
from firewall.policy.document import DecisionDocument, parse_decision
from firewall.policy.files import Signature, read_policy, require_dir, revision, signature
from firewall.policy.rego_input import set_input
from firewall.policy.rego_runtime import compile_bundle, new_interpreter, query

ENTRYPOINT: Final = "firewall/decision"


@dataclass(frozen=True)
class _Loaded:
    """One attempt to load the policy: a bundle, or the error that prevented it."""

    revision: str
    signature: Signature
    bundle: regopy.Bundle | None = None
    error: str | None = None


class RegoEngine:
    """Evaluate ``data.firewall.decision`` with the embedded Rego interpreter.

    Thread-safe: each thread gets its own interpreter; all share the compiled bundle.
    """

    def __init__(
        self,
        policy_dir: Path,
        *,
        entrypoint: str = ENTRYPOINT,
        reload_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if reload_interval_s < 0:
            raise ConfigError("policy.reload_interval_s", "must be zero or more seconds")
        self._dir = require_dir(policy_dir)
        self._entrypoint = entrypoint
        self._interval = reload_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._local = threading.local()
        self._closed = False
        self._loaded = self._load(None)
        if self._loaded.error is not None:
            raise PolicyError(self._loaded.error)
        self._next_check = clock() + reload_interval_s

    @property
    def revision(self) -> str:
        """``sha256:<hex>`` of the policy files last loaded (or last tried)."""
        return self._loaded.revision

    def evaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        """The policy's decision for ``policy_input``; raises PolicyError if it cannot."""
        loaded = self._current()
        if loaded.bundle is None:
            raise PolicyError(loaded.error or "policy is not loaded")
        interpreter = self._interpreter()
        set_input(interpreter, policy_input)
        return parse_decision(query(interpreter, loaded.bundle, self._entrypoint))

    async def aevaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        """Same as :meth:`evaluate` (CPU-only and fast, so it runs inline)."""
        return self.evaluate(policy_input)

    def close(self) -> None:
        """Release the compiled policy; later evaluations raise PolicyError."""
        with self._lock:
            self._closed = True
            self._loaded = _Loaded(self._loaded.revision, (), error="policy engine is closed")

    def _current(self) -> _Loaded:
        if self._clock() >= self._next_check and not self._closed:
            with self._lock:
                if self._clock() >= self._next_check and not self._closed:
                    self._refresh()
                    self._next_check = self._clock() + self._interval
        return self._loaded

    def _refresh(self) -> None:
        if signature(self._dir) != self._loaded.signature:
            self._loaded = self._load(self._loaded)

    def _load(self, previous: _Loaded | None) -> _Loaded:
        files = signature(self._dir)
        try:
            modules = read_policy(self._dir)
        except PolicyError as exc:
            return _Loaded(revision(()), files, error=str(exc))
        current = revision(modules)
        if previous is not None and previous.bundle is not None and previous.revision == current:
            return _Loaded(current, files, previous.bundle)
        try:
            return _Loaded(current, files, compile_bundle(modules, [self._entrypoint]))
        except PolicyError as exc:
            return _Loaded(current, files, error=str(exc))

    def _interpreter(self) -> regopy.Interpreter:
        interpreter: regopy.Interpreter | None = getattr(self._local, "interpreter", None)
        if interpreter is None:
            interpreter = self._local.interpreter = new_interpreter()
        return interpreter
