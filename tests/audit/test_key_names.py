"""Key names: schema-less URLs like a log origin work; bad names fail clearly, leave nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from firewall.audit.keyfiles import (
    generate_key_pair,
    key_file_stem,
    read_private_key_file,
    read_public_keys,
)
from firewall.audit.keys import SigningKey, VerifierKey
from firewall.cli.audit import app
from firewall.errors import AuditError

runner = CliRunner()


def test_keygen_accepts_a_schema_less_url_name_and_keeps_it_in_the_key(tmp_path: Path) -> None:
    result = runner.invoke(app, ["keygen", "--out", str(tmp_path), "--name", "example.com/audit"])
    assert result.exit_code == 0, result.output
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["example.com%2Faudit.key", "example.com%2Faudit.pub"]
    [public] = read_public_keys(tmp_path / "example.com%2Faudit.pub")
    signing, _ = read_private_key_file(tmp_path / "example.com%2Faudit.key")
    assert public.name == signing.name == "example.com/audit"
    assert result.output.splitlines()[-1] == public.text()


@pytest.mark.parametrize(
    ("name", "stem"),
    [("..", "%2E."), ("a/../../b", "a%2F..%2F..%2Fb"), ("acme-audit", "acme-audit")],
)
def test_a_key_name_never_becomes_a_path(name: str, stem: str) -> None:
    assert key_file_stem(name) == stem


def test_a_failed_keygen_leaves_no_file_that_blocks_a_retry(tmp_path: Path) -> None:
    (tmp_path / "acme.pub").mkdir()  # the public key cannot be written
    with pytest.raises(AuditError):
        generate_key_pair(tmp_path, "acme")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["acme.pub"]
    (tmp_path / "acme.pub").rmdir()
    private_path, _, _ = generate_key_pair(tmp_path, "acme")
    assert private_path.stat().st_mode & 0o777 == 0o600


def test_keygen_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    private_path, _, key = generate_key_pair(tmp_path, "acme")
    with pytest.raises(AuditError, match="already exists"):
        generate_key_pair(tmp_path, "acme")
    assert read_private_key_file(private_path)[0] == key


@pytest.mark.parametrize(
    "name",
    ["pr\u00fcfung.example/audit", "tab\there", "nb\u00a0space", "a+b", "", "x" * 256, "nl\nx"],
    ids=["non-ascii", "tab", "unicode-space", "plus", "empty", "too-long", "newline"],
)
def test_keygen_refuses_a_bad_name_clearly_and_writes_nothing(tmp_path: Path, name: str) -> None:
    result = runner.invoke(app, ["keygen", "--out", str(tmp_path / "k"), "--name", name])
    assert result.exit_code == 2
    assert "invalid key name" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "k").exists() or not any((tmp_path / "k").iterdir())


def test_a_utf8_key_name_from_elsewhere_still_parses_per_the_note_spec() -> None:
    """Only names we create must be ASCII; the spec allows UTF-8 names in vkeys."""
    key = SigningKey.generate("ascii-only")
    foreign = VerifierKey(name="t\u00e9moin.example", public=key.verifier.public)
    assert VerifierKey.parse(foreign.text()) == foreign
