"""The OPA engine: ask an OPA server for ``data.firewall.decision`` over its REST Data API.

Uses ``opa-python-client`` (the ``opa`` extra), imported lazily. An unreachable server,
a timeout or an HTTP error raises :class:`PolicyError`; an answer without ``result``
(the decision is undefined) raises :class:`MalformedDecisionError`.

``revision`` is computed from the local policy directory. It matches what the server
evaluates when ``upload_policies`` is set (the files are PUT at start); otherwise it
records the local copy the server is expected to run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Final
from urllib.parse import urlsplit

from firewall.errors import ConfigError, MalformedDecisionError, MissingDependencyError, PolicyError
from firewall.policy.document import UNDEFINED, DecisionDocument, parse_decision
from firewall.policy.files import RegoModule, read_policy, require_dir, revision
from firewall.policy.options import KEY, as_bool, as_float, as_int, query_options

DEFAULT_PORT: Final = 8181
POLICY_ID_PREFIX: Final = "firewall/"
_OPTIONS: Final = {"upload_policies", "timeout_s", "retries"}


def import_opa_client() -> ModuleType:
    """The ``opa_client`` package, or MissingDependencyError with the install hint."""
    try:
        import opa_client  # noqa: PLC0415 - optional extra, imported on use
    except ImportError as exc:
        raise MissingDependencyError("opa-python-client", "opa") from exc
    module: ModuleType = opa_client
    return module


def client_settings(base_url: str, *, timeout_s: float, retries: int) -> dict[str, Any]:
    """Keyword arguments of ``OpaClient``/``AsyncOpaClient`` for ``http(s)://host:port``."""
    parts = urlsplit(base_url.removeprefix("opa+"))
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        port = 0
    if parts.scheme not in {"http", "https"} or not parts.hostname or not port:
        raise ConfigError(KEY, "OPA URL must look like http://host:port or https://host:port")
    return {
        "host": parts.hostname,
        "port": port,
        "ssl": parts.scheme == "https",
        "timeout": timeout_s,
        "retries": retries,
    }


class OpaServerEngine:
    """Evaluate the policy on an OPA server (sync via requests, async via aiohttp)."""

    def __init__(
        self,
        base_url: str,
        policy_dir: Path,
        *,
        upload_policies: bool = False,
        timeout_s: float = 1.5,
        retries: int = 1,
    ) -> None:
        self._opa = import_opa_client()
        self.base_url = base_url.removeprefix("opa+").rstrip("/")
        self._settings = client_settings(base_url, timeout_s=timeout_s, retries=retries)
        modules = read_policy(require_dir(policy_dir))
        self._revision = revision(modules)
        self._client = self._opa.OpaClient(**self._settings)
        if upload_policies:
            self._upload_or_close(modules)

    @classmethod
    def from_url(cls, url: str, policy_dir: Path) -> OpaServerEngine:
        """Build from ``opa+http://host:port?upload_policies=true&timeout_s=1&retries=1``."""
        parts = urlsplit(url.removeprefix("opa+"))
        if parts.path not in {"", "/"} or parts.username or parts.password:
            raise ConfigError(KEY, "OPA URL takes no path and no credentials: opa+http://host:port")
        options = query_options(parts.query, _OPTIONS)
        return cls(
            f"{parts.scheme}://{parts.netloc}",
            policy_dir,
            upload_policies=as_bool("upload_policies", options.get("upload_policies", "false")),
            timeout_s=as_float("timeout_s", options.get("timeout_s", "1.5")),
            retries=as_int("retries", options.get("retries", "1")),
        )

    @property
    def revision(self) -> str:
        """``sha256:<hex>`` of the local policy files."""
        return self._revision

    def evaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        """POST the input to ``/v1/data/firewall/decision`` and validate the answer."""
        import requests  # noqa: PLC0415 - comes with the optional extra

        try:
            response = self._client.query_rule(dict(policy_input), "firewall", "decision")
        except (requests.RequestException, ValueError, TypeError) as exc:
            raise self._unreachable(exc) from exc
        return self._decision(response)

    async def aevaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        """The async twin; one short-lived aiohttp session per call (no loop affinity)."""
        import aiohttp  # noqa: PLC0415 - comes with the optional extra

        try:
            async with self._opa.AsyncOpaClient(**self._settings) as client:
                response = await client.query_rule(dict(policy_input), "firewall", "decision")
        except (aiohttp.ClientError, TimeoutError, ValueError, TypeError) as exc:
            raise self._unreachable(exc) from exc
        return self._decision(response)

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close_connection()

    def _decision(self, response: Any) -> DecisionDocument:
        if not isinstance(response, dict):
            raise MalformedDecisionError(f"OPA at {self.base_url} answered with a non-object body")
        return parse_decision(response.get("result", UNDEFINED))

    def _unreachable(self, exc: Exception) -> PolicyError:
        return PolicyError(f"OPA at {self.base_url} could not answer: {type(exc).__name__}: {exc}")

    def _upload_or_close(self, modules: tuple[RegoModule, ...]) -> None:
        try:
            upload_modules(self._client, modules, self.base_url)
        except PolicyError:
            self.close()
            raise


def upload_modules(client: Any, modules: tuple[RegoModule, ...], base_url: str) -> list[str]:
    """PUT each module as policy ``firewall/<relative path>``; returns the ids."""
    import requests  # noqa: PLC0415 - comes with the optional extra

    errors = import_opa_client().errors
    ids = []
    for module in modules:
        policy_id = POLICY_ID_PREFIX + module.name
        try:
            # rego_compat=False: on a "v0 syntax" rejection opa_client would rewrite rule
            # heads by regex and retry; our files are v1 already, so report the error.
            client.update_policy_from_string(module.source, policy_id, rego_compat=False)
        except errors.RegoParseError as exc:
            raise PolicyError(f"OPA at {base_url} rejected {module.name}: {exc}") from exc
        except (requests.RequestException, ValueError, errors.TypeException) as exc:
            raise PolicyError(
                f"could not upload {module.name} to OPA at {base_url}: {exc}"
            ) from exc
        ids.append(policy_id)
    return ids
