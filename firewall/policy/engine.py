"""One protocol for policy engines, and the engine chosen by a URL.

``embedded`` (or ``embedded://?reload_interval_s=1``): the policy compiled in-process by
regopy. ``opa+http://host:8181`` (or ``opa+https://``; options ``upload_policies``,
``timeout_s``, ``retries``): an OPA server asked over its REST Data API.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from firewall.errors import ConfigError
from firewall.policy.document import DecisionDocument
from firewall.policy.embedded import RegoEngine
from firewall.policy.opa_server import OpaServerEngine
from firewall.policy.options import KEY, as_float, query_options


class PolicyEngine(Protocol):
    """Evaluates the policy input to a decision document."""

    @property
    def revision(self) -> str:
        """``sha256:<hex>`` over the sorted (relative path, content) of the policy files."""
        ...

    def evaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        """The decision; raises PolicyError (or MalformedDecisionError) if there is none."""
        ...

    async def aevaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        """The async twin of :meth:`evaluate`."""
        ...

    def close(self) -> None:
        """Release connections and compiled policy."""
        ...


def engine_from_url(url: str, policy_dir: Path) -> PolicyEngine:
    """The engine ``url`` names, evaluating the policy in ``policy_dir``."""
    parts = urlsplit(url)
    if url == "embedded" or parts.scheme == "embedded":
        return _embedded(parts.query, policy_dir)
    if parts.scheme in {"opa+http", "opa+https"}:
        return _opa(url, policy_dir)
    scheme = parts.scheme or url
    raise ConfigError(
        KEY, f"unknown policy engine {scheme!r}; use 'embedded' or 'opa+http://host:port'"
    )


def _embedded(query: str, policy_dir: Path) -> PolicyEngine:
    options = query_options(query, {"reload_interval_s"})
    if "reload_interval_s" in options:
        interval = as_float("reload_interval_s", options["reload_interval_s"])
        return RegoEngine(policy_dir, reload_interval_s=interval)
    return RegoEngine(policy_dir)


def _opa(url: str, policy_dir: Path) -> PolicyEngine:
    return OpaServerEngine.from_url(url, policy_dir)
