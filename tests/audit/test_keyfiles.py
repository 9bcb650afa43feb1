"""Key files: 0600 private keys, public key files, and finding the writer's key."""

from __future__ import annotations

from pathlib import Path

import pytest

from firewall.audit.keyfiles import (
    KEY_FILE_ENV,
    WriterKeys,
    default_public_keys,
    dev_key_path,
    ensure_dev_key,
    generate_key_pair,
    read_private_key_file,
    read_public_keys,
    resolve_writer_keys,
    write_private_key_file,
)
from firewall.audit.keys import SigningKey
from firewall.errors import AuditError


def test_keygen_writes_a_0600_private_key_and_a_public_key(tmp_path: Path) -> None:
    private_path, public_path, key = generate_key_pair(tmp_path / "keys", "acme-audit")
    assert (private_path.name, public_path.name) == ("acme-audit.key", "acme-audit.pub")
    assert private_path.stat().st_mode & 0o777 == 0o600
    assert read_private_key_file(private_path) == (key, ())
    assert read_public_keys(public_path) == (key.verifier,)


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    generate_key_pair(tmp_path, "acme-audit")
    with pytest.raises(AuditError, match="already exists"):
        generate_key_pair(tmp_path, "acme-audit")


def test_a_private_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    private_path, _, _ = generate_key_pair(tmp_path, "loose")
    private_path.chmod(0o644)
    with pytest.raises(AuditError, match="chmod 600"):
        WriterKeys.from_file(private_path)


def test_a_key_file_lists_the_keys_it_replaced(tmp_path: Path) -> None:
    old, new = SigningKey.generate("old"), SigningKey.generate("new")
    path = tmp_path / "writer.key"
    write_private_key_file(path, new, [old.verifier])
    keys = WriterKeys.from_file(path)
    assert keys.signing == new
    assert keys.accepted == (new.verifier, old.verifier)


def test_writer_keys_reload_when_the_file_is_replaced(tmp_path: Path) -> None:
    old, new = SigningKey.generate("old"), SigningKey.generate("new")
    path = tmp_path / "writer.key"
    write_private_key_file(path, old)
    keys = WriterKeys.from_file(path)
    assert not keys.refresh()
    write_private_key_file(path, new, [old.verifier], replace=True)
    assert keys.refresh()
    assert keys.signing == new
    assert len(keys.handoff_keys) == 2


def test_the_writer_key_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_path, _, key = generate_key_pair(tmp_path, "from-env")
    monkeypatch.setenv(KEY_FILE_ENV, str(private_path))
    assert resolve_writer_keys("postgresql+psycopg://db/audit").signing == key


def test_without_a_key_the_writer_refuses_naming_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    with pytest.raises(AuditError, match="FIREWALL_AUDIT_KEY_FILE"):
        resolve_writer_keys(f"sqlite:///{tmp_path / 'audit.db'}")


def test_verify_trusts_the_public_keys_beside_the_configured_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_path, public_path, _ = generate_key_pair(tmp_path / "keys", "prod")
    monkeypatch.setenv(KEY_FILE_ENV, str(private_path))
    assert default_public_keys("postgresql+psycopg://db/audit") == (public_path,)


def test_a_dev_key_is_used_only_once_created_next_to_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'firewall.db'}"
    assert default_public_keys(url) == ()
    created = ensure_dev_key(tmp_path)
    assert created == dev_key_path(tmp_path)
    assert resolve_writer_keys(url).path == created
    assert default_public_keys(url) == (created.with_suffix(".pub"),)
    assert ensure_dev_key(tmp_path) == created
