"""Service settings: [service] and [slack] tables, secrets from the environment, REST tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from firewall.errors import ConfigError
from firewall.service_config import (
    TOKENS_ENV,
    approver_for_token,
    hash_token,
    load_service_config,
    parse_service_config,
    tokens_from_env,
)

ALICE_TOKEN = "alice-kP3vQ9zR7wX2mN8bL4tY6hJ1sD5fG0cV"
CAROL_TOKEN = "carol-Zq8Wn2Lx5Rv7Tb3Mk9Pj4Hs6Gd1Fc0Ya"

BASE = {"tools": [{"name": "issue_refund", "scope": "refunds:write"}]}


def test_tables_are_split_off_and_validated() -> None:
    config = parse_service_config(
        {
            **BASE,
            "approvers": {"supervisors": ["alice"]},
            "service": {"port": 9000, "tokens": {"alice": hash_token(ALICE_TOKEN)}},
            "slack": {"channel": "C0APPROVALS", "users": {"alice": "U0ALICE"}},
        }
    )
    assert config.service.port == 9000
    assert config.slack is not None
    assert config.slack.channel_for("supervisors") == "C0APPROVALS"
    assert config.firewall.approvers == {"supervisors": frozenset({"alice"})}


def test_no_slack_table_means_no_slack() -> None:
    assert parse_service_config(dict(BASE)).slack is None


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"service": {"port": 70000}}, "service.port"),
        ({"service": {"tokens": {"alice": "plaintext-token"}}}, "service.tokens.alice"),
        ({"slack": {"channel": "#approvals"}}, "slack.channel"),
        ({"slack": {"channel": "C0A", "surprise": 1}}, "slack.surprise"),
    ],
)
def test_bad_settings_name_the_key(tables: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_service_config({**BASE, **tables})
    assert caught.value.key == key


def test_group_channels_override_the_default_channel() -> None:
    config = parse_service_config(
        {**BASE, "slack": {"channel": "C0ALL", "group_channels": {"finance": "C0FIN"}}}
    )
    assert config.slack is not None
    assert config.slack.channel_for("finance") == "C0FIN"
    assert config.slack.channel_for("supervisors") == "C0ALL"


def test_slack_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_service_config({**BASE, "slack": {"channel": "C0A"}})
    assert config.slack is not None
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is unset"):
        config.slack.credentials()
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "shh")
    credentials = config.slack.credentials()
    assert credentials.bot_token.get_secret_value() == "xoxb-secret"
    assert "xoxb-secret" not in repr(credentials)
    assert "shh" not in str(credentials)


def test_socket_mode_needs_the_app_token_not_the_signing_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = parse_service_config({**BASE, "slack": {"channel": "C0A", "mode": "socket"}})
    assert config.slack is not None
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-secret")
    credentials = config.slack.credentials()
    assert credentials.app_token is not None
    assert credentials.signing_secret is None


def test_token_owner_is_found_by_digest_only() -> None:
    tokens = {"alice": hash_token(ALICE_TOKEN), "carol": hash_token(CAROL_TOKEN)}
    assert approver_for_token(tokens, CAROL_TOKEN) == "carol"
    assert approver_for_token(tokens, ALICE_TOKEN + " ") is None
    assert approver_for_token(tokens, hash_token(ALICE_TOKEN)) is None


def test_tokens_from_the_environment_must_be_digests() -> None:
    assert tokens_from_env({TOKENS_ENV: f'{{"bob": "{hash_token(CAROL_TOKEN)}"}}'}) == {
        "bob": hash_token(CAROL_TOKEN)
    }
    assert tokens_from_env({}) == {}
    with pytest.raises(ConfigError, match=TOKENS_ENV):
        tokens_from_env({TOKENS_ENV: '{"bob": "x"}'})


def test_load_reads_a_file_and_resolves_paths(tmp_path: Path) -> None:
    path = tmp_path / "firewall.toml"
    path.write_text(
        '[storage]\nurl = "sqlite:///data/fw.db"\n[service]\nport = 0\n'
        '[[tools]]\nname = "issue_refund"\nscope = "refunds:write"\n',
        encoding="utf-8",
    )
    config = load_service_config(path)
    assert config.firewall.storage.url == f"sqlite:///{tmp_path / 'data' / 'fw.db'}"
    with pytest.raises(ConfigError, match="file not found"):
        load_service_config(tmp_path / "missing.toml")
