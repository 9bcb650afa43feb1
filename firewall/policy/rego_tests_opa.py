"""Run the Rego tests on an OPA server: upload the test files, query each test, clean up."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from firewall.errors import PolicyError
from firewall.policy.document import UNDEFINED
from firewall.policy.files import read_module, read_policy
from firewall.policy.opa_server import client_settings, import_opa_client, upload_modules
from firewall.policy.rego_tests import RegoTest, RegoTestResult, verdict

QUERY_TIMEOUT_S = 120.0
"""Generous: OPA (and the test server) may compile everything on the first query."""


def run_on_opa(
    policy_dir: Path,
    tests: Sequence[RegoTest],
    opa_url: str,
    *,
    upload_policies: bool = False,
) -> list[RegoTestResult]:
    """Query ``data.<package>.<test>`` on the OPA at ``opa_url`` for every test."""
    import requests  # noqa: PLC0415 - comes with the optional extra

    settings = client_settings(opa_url, timeout_s=QUERY_TIMEOUT_S, retries=0)
    base_url = opa_url.removeprefix("opa+").rstrip("/")
    client = import_opa_client().OpaClient(**settings)
    try:
        if not client.check_health():
            raise PolicyError(f"OPA at {base_url} is not reachable or not healthy")
        if upload_policies:
            upload_modules(client, read_policy(policy_dir), base_url)
        test_files = tuple(read_module(policy_dir, policy_dir / f) for f in _files(tests))
        uploaded = upload_modules(client, test_files, base_url)
        try:
            return [_run_one(client, test, base_url) for test in tests]
        except (requests.RequestException, ValueError) as exc:
            raise PolicyError(f"OPA at {base_url} could not answer: {exc}") from exc
        finally:
            _delete(client, uploaded)
    finally:
        client.close_connection()


def _run_one(client: Any, test: RegoTest, base_url: str) -> RegoTestResult:
    response = client.query_rule({}, test.package, test.name)
    if not isinstance(response, dict):
        raise PolicyError(f"OPA at {base_url} answered with a non-object body")
    return verdict(test, response.get("result", UNDEFINED))


def _files(tests: Sequence[RegoTest]) -> list[str]:
    return list(dict.fromkeys(test.file for test in tests))


def _delete(client: Any, policy_ids: list[str]) -> None:
    """Best effort: a test file left behind is harmless, a lost result is not."""
    import requests  # noqa: PLC0415 - comes with the optional extra

    errors = import_opa_client().errors
    for policy_id in policy_ids:
        with contextlib.suppress(requests.RequestException, ValueError, errors.DeletePolicyError):
            client.delete_policy(policy_id)
