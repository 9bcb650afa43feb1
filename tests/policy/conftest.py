"""Fixtures of the policy tests: the shipped policies, copies of them, an OPA test server."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from firewall.testing.opa_server import OpaTestServer

SHIPPED_POLICIES = Path(__file__).resolve().parents[2] / "policies" / "rego"

InputFactory = Callable[..., dict[str, Any]]
NONE_REFUNDED = {"refunded_per_order": {"cents": 0, "amount": 0, "calls": 0}}


@pytest.fixture(scope="session")
def shipped_policies() -> Path:
    """The real policies/rego directory of the repository."""
    return SHIPPED_POLICIES


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped policies (tests included) to edit."""
    target = tmp_path / "rego"
    shutil.copytree(SHIPPED_POLICIES, target)
    return target


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    """Write Rego files (name -> source) into a fresh directory and return it."""

    def write(**files: str) -> Path:
        directory = tmp_path / "custom"
        directory.mkdir(exist_ok=True)
        for name, source in files.items():
            (directory / f"{name}.rego").write_text(source, encoding="utf-8")
        return directory

    return write


@pytest.fixture(scope="session")
def make_input() -> InputFactory:
    """Build a policy input like the pipeline does (tenant t1 unless told otherwise)."""

    def make(
        tool: str,
        args: dict[str, Any] | None = None,
        facts: dict[str, Any] | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        return {
            "tool": {"name": tool, "scope": f"{tool}:call", "risk": "high", "money_arg": None},
            "args": args or {},
            "principal": {
                "agent_id": "agent-1",
                "tenant": kw.get("tenant", "t1"),
                "scopes": ["crm:read", "payments:write"],
                # A refund acts for the order's customer (c1) unless told otherwise.
                "on_behalf_of": kw.get(
                    "on_behalf_of", "customer:c1" if tool == "issue_refund" else None
                ),
                "requested_by": "operator-1",
            },
            "session": kw.get("session", {"id": "session-1"}),
            "context": {
                "time": "2025-01-01T12:00:00+00:00",
                "facts": facts or {},
                "totals": kw.get("totals", NONE_REFUNDED),
            },
            "tokens": kw.get("tokens", {}),
            "arg_sources": kw.get("arg_sources", {}),
        }

    return make


@pytest.fixture(scope="module")
def opa_server() -> Iterator[OpaTestServer]:
    """A running OPA test server with the shipped policies (no tests) loaded."""
    with OpaTestServer() as server:
        server.load_policies(SHIPPED_POLICIES)
        yield server
