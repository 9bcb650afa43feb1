"""Secret providers: environment variables and secrets files, never echoing a value."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from firewall.credentials.secrets import EnvSecrets, FileSecrets, split_ref
from firewall.errors import ConfigError

VALUE = "s3cr3t-value-91f2"


def test_env_provider_reads_the_variable_at_lookup_time() -> None:
    environ = {"CRM_TOKEN": VALUE}
    provider = EnvSecrets(environ)
    found = provider.get("CRM_TOKEN")
    assert found is not None
    assert found.get_secret_value() == VALUE
    environ["CRM_TOKEN"] = "rotated-value"
    rotated = provider.get("CRM_TOKEN")
    assert rotated is not None
    assert rotated.get_secret_value() == "rotated-value"


def test_env_provider_treats_missing_and_empty_as_absent() -> None:
    provider = EnvSecrets({"EMPTY": ""})
    assert provider.get("EMPTY") is None
    assert provider.get("MISSING") is None
    assert provider.describe("MISSING") == "environment variable MISSING"


def test_env_provider_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_TEST_SECRET", VALUE)
    found = EnvSecrets().get("FW_TEST_SECRET")
    assert found is not None
    assert found.get_secret_value() == VALUE
    assert os.environ["FW_TEST_SECRET"] not in repr(found)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_file_provider_reads_toml_or_json(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"secrets{suffix}"
    text = f'crm = "{VALUE}"\n' if suffix == ".toml" else json.dumps({"crm": VALUE})
    path.write_text(text, encoding="utf-8")
    found = FileSecrets(path).get("crm")
    assert found is not None
    assert found.get_secret_value() == VALUE
    assert FileSecrets(path).get("other") is None


def test_file_provider_rereads_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"crm": "old-value"}), encoding="utf-8")
    provider = FileSecrets(path)
    assert provider.get("crm") is not None
    path.write_text(json.dumps({"crm": "new-value-longer"}), encoding="utf-8")
    renewed = provider.get("crm")
    assert renewed is not None
    assert renewed.get_secret_value() == "new-value-longer"


def test_a_broken_secrets_file_is_named_but_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(f'crm = "{VALUE}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        FileSecrets(path).get("crm")
    assert str(path) in str(caught.value)
    assert VALUE not in str(caught.value)
    assert caught.value.__cause__ is None


def test_a_secrets_file_must_map_names_to_strings(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"crm": 42}), encoding="utf-8")
    with pytest.raises(ConfigError, match="must map names to strings"):
        FileSecrets(path).get("crm")


def test_references_split_into_provider_and_name() -> None:
    assert split_ref("env:CRM_TOKEN") == ("env", "CRM_TOKEN")
    assert split_ref("vault+kv:payments/key") == ("vault+kv", "payments/key")
