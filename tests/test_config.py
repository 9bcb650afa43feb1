"""firewall.toml parsing: valid files load, bad files name the wrong key."""

from pathlib import Path

import pytest

from firewall.config import load_config, parse_config
from firewall.errors import ConfigError
from firewall.types import Risk

EXAMPLE = Path(__file__).parents[1] / "examples" / "support_agent" / "firewall.toml"


def minimal(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {"tools": [{"name": "crm_lookup", "scope": "crm:read"}]}
    data.update(overrides)
    return data


def test_example_config_loads_with_paths_resolved_against_the_file() -> None:
    config = load_config(EXAMPLE)
    names = [tool.name for tool in config.tools]
    assert names == ["crm_lookup", "read_ticket", "issue_refund", "charge_card", "send_email"]
    assert config.tools[3].risk is Risk.CRITICAL
    assert config.tools[1].output_labels == ("untrusted",)
    assert config.policy.dir == (EXAMPLE.parent / "../../policies/rego").resolve()
    assert config.approvers["supervisors"] == frozenset({"alice", "carol"})
    assert config.storage.audit().startswith("sqlite:////")


def test_bad_risk_names_the_key() -> None:
    tools = [{"name": "crm_lookup", "scope": "crm:read", "risk": "extreme"}]
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(tools=tools))
    assert info.value.key == "tools[0].risk"


def test_bad_rate_limit_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(rate_limits=[{"limit": "5 per fortnight"}]))
    assert info.value.key == "rate_limits[0].limit"
    assert "fortnight" in str(info.value)


def test_unknown_key_is_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(storage={"urll": "sqlite:///x.db"}))
    assert info.value.key == "storage.urll"


def test_no_tools_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"tools": []})
    assert info.value.key == "tools"


def test_duplicate_tool_names_are_an_error() -> None:
    tool = {"name": "crm_lookup", "scope": "crm:read"}
    with pytest.raises(ConfigError, match="duplicate tool names: crm_lookup"):
        parse_config({"tools": [tool, tool]})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "firewall.toml"
    path.write_text("[[tools]\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == str(path)
    assert "not valid TOML" in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_relative_sqlite_urls_resolve_against_the_config_dir(tmp_path: Path) -> None:
    config = parse_config(minimal(storage={"url": "sqlite:///data/fw.db"}), tmp_path)
    assert config.storage.url == f"sqlite:///{tmp_path.resolve()}/data/fw.db"
    assert config.storage.approvals() == config.storage.url


def test_example_config_declares_vault_budgets_and_breaker() -> None:
    config = load_config(EXAMPLE)
    assert [tool.credential for tool in config.tools] == ["crm", None, "payments", "payments", None]
    assert config.vault.secrets_file == EXAMPLE.with_name("demo_secrets.toml")
    assert sorted(config.vault.credentials) == ["crm", "payments"]
    assert [(rule.per, rule.amount, rule.window) for rule in config.budgets] == [
        ("agent", 2000, "1 hour"),
        ("customer", 500, "1 day"),
    ]
    assert config.limits.fail_open_low_risk is False
    assert config.breaker.max_denials == 20


def test_a_tool_credential_must_be_declared_in_the_vault() -> None:
    tools = [{"name": "crm_lookup", "scope": "crm:read", "credential": "crm"}]
    with pytest.raises(ConfigError, match="needs credential 'crm'"):
        parse_config(minimal(tools=tools))


def test_a_budget_needs_a_tool_that_moves_money() -> None:
    budgets = [{"tool": "crm_lookup", "amount": 10, "window": "1 hour"}]
    with pytest.raises(ConfigError, match="needs a declared tool with a money_arg"):
        parse_config(minimal(budgets=budgets))


def test_bad_budget_window_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(budgets=[{"amount": 10, "window": "1 fortnight"}]))
    assert info.value.key == "budgets[0].window"


def test_fail_open_is_off_unless_configured() -> None:
    assert parse_config(minimal()).limits.fail_open_low_risk is False
    opened = parse_config(minimal(limits={"fail_open_low_risk": True}))
    assert opened.limits.fail_open_low_risk is True


@pytest.mark.parametrize(
    ("storage", "freeze_url"),
    [
        ({"url": "sqlite:////data/f.db"}, "sqlite:////data/f.db"),
        ({"url": "sqlite:////d.db", "limits_url": "redis://r:6379/0"}, "redis://r:6379/0"),
        ({"url": "sqlite:////d.db", "freeze_url": "redis://other/1"}, "redis://other/1"),
    ],
)
def test_freeze_list_follows_redis_else_the_sql_store(
    storage: dict[str, str], freeze_url: str
) -> None:
    assert parse_config(minimal(storage=storage)).storage.freeze() == freeze_url


def test_vault_paths_resolve_against_the_config_dir(tmp_path: Path) -> None:
    vault = {"secrets_file": "secrets.toml", "signing_key_file": "/abs/cap.pem"}
    config = parse_config(minimal(vault=vault), tmp_path)
    assert config.vault.secrets_file == (tmp_path / "secrets.toml").resolve()
    assert config.vault.signing_key_file == Path("/abs/cap.pem")


def test_session_history_is_bounded_and_names_the_key() -> None:
    assert parse_config(minimal(policy={"session_history": 3})).policy.session_history == 3
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(policy={"session_history": 1000}))
    assert info.value.key == "policy.session_history"


def test_a_bad_file_reports_every_wrong_key_at_once() -> None:
    tools = [{"name": "crm_lookup", "scope": "crm:read", "risk": "extreme"}]
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(tools=tools, storage={"urll": "x"}, limits={"timeout_s": "soon"}))
    keys = [key for key, _ in info.value.problems]
    assert sorted(keys) == ["limits.timeout_s", "storage.urll", "tools[0].risk"]
    assert str(info.value).startswith("3 config errors:")
    assert all(f"at {key!r}" in str(info.value) for key in keys)


def test_environment_variables_override_the_file() -> None:
    environ = {
        "FIREWALL_STORAGE__LIMITS_URL": "redis://cache:6379/0",
        "FIREWALL_LIMITS__TIMEOUT_S": "2.5",
        "FIREWALL_APPROVERS__SUPERVISORS": '["dana"]',
        "FIREWALL_VAULT__CREDENTIALS__CRM__SECRET": "env:OTHER_CRM_TOKEN",
        "FIREWALL_AUDIT_KEY_FILE": "/not/a/settings/path",  # no "__": left alone
    }
    config = load_config(EXAMPLE, environ)
    assert config.storage.limits_url == "redis://cache:6379/0"
    assert config.limits.timeout_s == 2.5
    assert config.approvers["supervisors"] == frozenset({"dana"})
    assert config.vault.credentials["crm"].secret == "env:OTHER_CRM_TOKEN"
    assert config.tools == load_config(EXAMPLE, {}).tools


def test_a_mistyped_environment_override_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(EXAMPLE, {"FIREWALL_STORAGE__URLL": "sqlite:///x.db"})
    assert info.value.key == "storage.urll"
    with pytest.raises(ConfigError, match="FIREWALL_APPROVERS__SUPERVISORS"):
        load_config(EXAMPLE, {"FIREWALL_APPROVERS__SUPERVISORS": "[alice"})
