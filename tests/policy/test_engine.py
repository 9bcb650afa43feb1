"""Choosing an engine by URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from firewall.errors import ConfigError
from firewall.policy.embedded import RegoEngine
from firewall.policy.engine import PolicyEngine, engine_from_url
from firewall.policy.opa_server import OpaServerEngine
from firewall.testing.opa_server import OpaTestServer


@pytest.mark.parametrize("url", ["embedded", "embedded://", "embedded://?reload_interval_s=0.5"])
def test_embedded_urls_give_the_embedded_engine(url: str, shipped_policies: Path) -> None:
    engine: PolicyEngine = engine_from_url(url, shipped_policies)
    assert isinstance(engine, RegoEngine)
    assert engine.evaluate({"tool": {"name": "nope"}}).outcome == "deny"
    engine.close()


def test_opa_url_gives_the_opa_engine(opa_server: OpaTestServer, shipped_policies: Path) -> None:
    engine = engine_from_url(opa_server.engine_url, shipped_policies)
    assert isinstance(engine, OpaServerEngine)
    assert engine.evaluate({"tool": {"name": "nope"}}).outcome == "deny"
    engine.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("opa://localhost", "unknown policy engine 'opa'"),
        ("http://localhost:8181", "unknown policy engine 'http'"),
        ("rego", "unknown policy engine 'rego'"),
        ("embedded://?reload_interval_s=-1", "reload_interval_s must be a non-negative number"),
        ("embedded://?reload=1", "unknown option"),
    ],
)
def test_unknown_engines_and_options_are_config_errors(
    url: str, message: str, shipped_policies: Path
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        engine_from_url(url, shipped_policies)
    assert caught.value.key == "policy.engine"


def test_engine_on_missing_policy_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        engine_from_url("embedded", tmp_path / "missing")
    assert caught.value.key == "policy.dir"
