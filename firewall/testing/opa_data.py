"""The policy store and data document behind :class:`OpaTestServer`, evaluated by regopy.

Modules are parse-checked when stored and compiled together on the first query after
a change. rego-cpp evaluates compiled entrypoints only, so every package and every
rule head found in the sources becomes one; a deeper path is read out of its nearest
entrypoint's value and a shallower one is assembled from the packages below it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import regopy

from firewall.errors import PolicyError
from firewall.policy.document import UNDEFINED
from firewall.policy.files import RegoModule
from firewall.policy.rego_input import set_input
from firewall.policy.rego_runtime import compile_bundle, describe_rego_error, new_interpreter
from firewall.policy.rego_runtime import query as query_entrypoint

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_RULE_HEAD = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)(?![\w(])", re.MULTILINE)
_KEYWORDS = frozenset({"package", "import", "default", "else", "some", "every", "not", "with"})


@dataclass(frozen=True)
class _Compiled:
    bundle: regopy.Bundle
    entrypoints: frozenset[str]
    packages: tuple[tuple[str, ...], ...]


class OpaData:
    """Thread-safe: the store is locked; each query gets its own interpreter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modules: dict[str, str] = {}
        self._compiled: _Compiled | PolicyError | None = None

    def put(self, policy_id: str, source: str) -> list[str]:
        """Store a module; returns parse errors (and stores nothing) if it does not parse."""
        checker = new_interpreter()
        try:
            checker.add_module(policy_id, source)
        except regopy.RegoError as exc:
            return [describe_rego_error(str(exc), {policy_id: source})]
        with self._lock:
            self._modules[policy_id] = source
            self._compiled = None
        return []

    def delete(self, policy_id: str) -> bool:
        """Remove a module; False if there was none."""
        with self._lock:
            self._compiled = None
            return self._modules.pop(policy_id, None) is not None

    def get(self, policy_id: str) -> str | None:
        """The source of one module."""
        with self._lock:
            return self._modules.get(policy_id)

    def modules(self) -> dict[str, str]:
        """Every module, by id."""
        with self._lock:
            return dict(self._modules)

    def query(self, path: list[str], policy_input: Any = UNDEFINED) -> Any:
        """The value of ``data.<path>`` (``UNDEFINED`` if none); errors raise PolicyError."""
        compiled = self._compile()
        interpreter = new_interpreter()
        if policy_input is not UNDEFINED:
            set_input(interpreter, policy_input)
        return _evaluate(compiled, interpreter, tuple(path))

    def _compile(self) -> _Compiled:
        with self._lock:
            if self._compiled is None:
                try:
                    self._compiled = _compile(self._modules)
                except PolicyError as exc:
                    self._compiled = exc
            if isinstance(self._compiled, PolicyError):
                raise PolicyError(str(self._compiled))
            return self._compiled


def _compile(sources: dict[str, str]) -> _Compiled:
    modules = [RegoModule(name, source) for name, source in sorted(sources.items())]
    packages = sorted({package for module in modules for package in _packages(module.source)})
    entrypoints = {"/".join(package) for package in packages}
    entrypoints |= {entry for module in modules for entry in _rule_entrypoints(module.source)}
    if not entrypoints:
        raise PolicyError("no policies loaded")
    bundle = compile_bundle(modules, sorted(entrypoints))
    return _Compiled(bundle, frozenset(entrypoints), tuple(packages))


def _packages(source: str) -> list[tuple[str, ...]]:
    return [tuple(match.split(".")) for match in _PACKAGE.findall(source)]


def _rule_entrypoints(source: str) -> set[str]:
    packages = _PACKAGE.findall(source)
    if not packages:
        return set()
    prefix = packages[0].replace(".", "/")
    names = set(_RULE_HEAD.findall(source)) - _KEYWORDS
    return {f"{prefix}/{name}" for name in names}


def _evaluate(compiled: _Compiled, interpreter: regopy.Interpreter, path: tuple[str, ...]) -> Any:
    for length in range(len(path), 0, -1):
        entrypoint = "/".join(path[:length])
        if entrypoint in compiled.entrypoints:
            value = query_entrypoint(interpreter, compiled.bundle, entrypoint)
            return _walk(value, path[length:])
    below = [p for p in compiled.packages if p[: len(path)] == path and len(p) > len(path)]
    if not below:
        return UNDEFINED
    document: dict[str, Any] = {}
    for package in below:
        value = query_entrypoint(interpreter, compiled.bundle, "/".join(package))
        if value is not UNDEFINED:
            _insert(document, package[len(path) :], value)
    return document


def _walk(value: Any, rest: tuple[str, ...]) -> Any:
    for key in rest:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return UNDEFINED
    return value


def _insert(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document.setdefault(key, {})
    existing = document.get(path[-1])
    if isinstance(existing, dict) and isinstance(value, dict):
        existing.update(value)
    else:
        document[path[-1]] = value
