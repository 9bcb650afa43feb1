"""One firewall.toml serves the agent and the service: [slack] and [service] load with the rest."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from firewall.config import load_config, parse_config
from firewall.errors import ConfigError
from firewall.factory import build_firewall
from firewall.service_config import hash_token

POLICIES = Path(__file__).parent.parent / "policies" / "rego"
README_TABLES = """
[slack]
channel = "C0123APPROVALS"
group_channels = { finance = "C0456FINANCE" }
users = { alice = "U01ALICE", carol = "U02CAROL", bob = "U03BOB" }

[service]
host = "127.0.0.1"
port = 8080
redis_url = "redis://127.0.0.1:6379/0"

[service.tokens]
alice = "%s"
"""


def test_the_agent_builds_from_a_file_with_the_readme_service_tables(tmp_path: Path) -> None:
    """The README tells users to add [slack] and [service] to the agent's firewall.toml."""
    agent_tables = f"""
[policy]
dir = "{POLICIES}"

[storage]
url = "sqlite:///firewall.db"

[audit]
dev_key = true

[approvers]
supervisors = ["alice", "carol"]

[[tools]]
name = "issue_refund"
scope = "refunds:write"
"""
    config_file = tmp_path / "firewall.toml"
    tokens = README_TABLES % hash_token(secrets.token_urlsafe(32))
    config_file.write_text(agent_tables + tokens, encoding="utf-8")
    config = load_config(config_file)
    assert config.slack is not None
    assert config.slack.channel == "C0123APPROVALS"
    assert config.service.port == 8080
    build_firewall(config).close()


def test_a_wrong_key_in_the_service_tables_is_named() -> None:
    data = {"tools": [{"name": "t", "scope": "s"}], "slack": {"channel": "#approvals"}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.key == "slack.channel"


def test_an_unknown_table_is_still_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"tools": [{"name": "t", "scope": "s"}], "slak": {"channel": "C0A"}})
    assert caught.value.key == "slak"
