"""The policy store and data document behind :class:`OpaTestServer`, evaluated by regopy.

Modules are parse-checked when stored. rego-cpp evaluates compiled entrypoints only, so
every package and every rule head found in the sources becomes one; a deeper path is
read out of its nearest entrypoint's value and a shallower one is assembled from the
packages below it. Compiling every entrypoint of every module at once grows much faster
than the number of rules (the shipped policies with their tests: ~40 s of CPU), so each
module's rule heads (and each package) are compiled together, with every module loaded,
on the first query that needs them, as ``firewall policy test`` does per test file.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
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


@dataclass
class _Compiled:
    """The modules of one store version; bundles compiled per group of entrypoints."""

    modules: tuple[RegoModule, ...]
    groups: dict[str, tuple[str, ...]]  # entrypoint -> every entrypoint compiled with it
    packages: tuple[tuple[str, ...], ...]
    bundles: dict[tuple[str, ...], regopy.Bundle | PolicyError] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def entrypoints(self) -> frozenset[str]:
        return frozenset(self.groups)

    def bundle_for(self, entrypoint: str) -> regopy.Bundle:
        """The bundle that can evaluate ``entrypoint``, compiled on first use."""
        group = self.groups[entrypoint]
        with self.lock:
            if group not in self.bundles:
                try:
                    self.bundles[group] = compile_bundle(self.modules, group)
                except PolicyError as exc:
                    self.bundles[group] = exc
            bundle = self.bundles[group]
        if isinstance(bundle, PolicyError):
            raise PolicyError(str(bundle))
        return bundle


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
    modules = tuple(RegoModule(name, source) for name, source in sorted(sources.items()))
    packages = sorted({package for module in modules for package in _packages(module.source)})
    groups: dict[str, tuple[str, ...]] = {}
    for package in packages:
        groups["/".join(package)] = ("/".join(package),)
    for module in modules:
        rules = tuple(sorted(_rule_entrypoints(module.source) - groups.keys()))
        groups.update(dict.fromkeys(rules, rules))
    if not groups:
        raise PolicyError("no policies loaded")
    return _Compiled(modules, groups, tuple(packages))


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
            value = query_entrypoint(interpreter, compiled.bundle_for(entrypoint), entrypoint)
            return _walk(value, path[length:])
    below = [p for p in compiled.packages if p[: len(path)] == path and len(p) > len(path)]
    if not below:
        return UNDEFINED
    document: dict[str, Any] = {}
    for package in below:
        value = query_entrypoint(
            interpreter, compiled.bundle_for("/".join(package)), "/".join(package)
        )
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
