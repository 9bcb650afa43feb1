"""``[audit]`` settings: where the writer's key comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from firewall.audit.keyfiles import KEY_FILE_ENV, dev_key_path, generate_key_pair
from firewall.audit.settings import AuditSettings, CheckpointPolicy
from firewall.errors import AuditError


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


def test_a_configured_key_file_is_used(tmp_path: Path) -> None:
    private_path, _, key = generate_key_pair(tmp_path, "configured")
    settings = AuditSettings(key_file=private_path)
    assert settings.writer_keys("postgresql+psycopg://db/x").signing == key


def test_dev_key_creates_a_key_in_the_data_dir_not_in_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'firewall.db'}"
    keys = AuditSettings(dev_key=True).writer_keys(url)
    assert keys.path == dev_key_path(tmp_path)
    assert AuditSettings(dev_key=True).writer_keys(url).signing == keys.signing


def test_the_environment_wins_over_a_dev_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_path, _, key = generate_key_pair(tmp_path / "prod", "prod")
    monkeypatch.setenv(KEY_FILE_ENV, str(private_path))
    keys = AuditSettings(dev_key=True).writer_keys(f"sqlite:///{tmp_path / 'firewall.db'}")
    assert keys.signing == key
    assert not dev_key_path(tmp_path).exists()


def test_production_without_a_key_refuses(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no audit signing key"):
        AuditSettings().writer_keys(f"sqlite:///{tmp_path / 'firewall.db'}")


def test_checkpoint_policy_is_validated() -> None:
    with pytest.raises(ValidationError, match="every_records"):
        CheckpointPolicy(every_records=0)
    assert AuditSettings.model_validate({"checkpoints": {"every_seconds": 60}}).checkpoints == (
        CheckpointPolicy(every_seconds=60)
    )


def test_durability_defaults_to_fsync_at_every_commit() -> None:
    settings = AuditSettings()
    assert settings.sqlite_synchronous == "full"
    assert 0 < settings.outcome_flush_s <= 1


def test_durability_settings_are_validated() -> None:
    assert AuditSettings(sqlite_synchronous="normal").sqlite_synchronous == "normal"
    with pytest.raises(ValidationError):
        AuditSettings(sqlite_synchronous="off")
    with pytest.raises(ValidationError):
        AuditSettings(outcome_flush_s=-1)
