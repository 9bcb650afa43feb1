"""After ``rotate-key`` an auditor holding only the original key can still check proofs.

Proofs carry the ``key_rotated`` records with their audit paths to checkpoints the old
key signed; ``verify-proof`` exits 2 (not 1) when no key the auditor holds signed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firewall.audit.keyfiles import KEY_FILE_ENV, WriterKeys
from firewall.audit.keys import SigningKey
from firewall.audit.store import SqlAuditLog
from firewall.cli.audit import app
from tests.audit.tampering import LAST, build_log

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def rotated(sqlite_url: str, writer_keys: WriterKeys, key_files: tuple[Path, Path]) -> str:
    """A log written under the original key, rotated, then written under the new key."""
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        build_log(sqlite_url, log)
    code, _, _ = run(
        "rotate-key", "--db", sqlite_url, "--key-file", str(key_files[0]), "--name", "next"
    )
    assert code == 0
    with SqlAuditLog(sqlite_url, keys=WriterKeys.from_file(key_files[0])) as log:
        build_log(sqlite_url, log)
    return sqlite_url


def prove_late_record(url: str, tmp_path: Path) -> Path:
    proof = tmp_path / "late.json"
    assert run("prove", str(2 * LAST), "--db", url, "--out", str(proof))[0] == 0
    return proof


def test_an_auditor_with_the_original_key_follows_the_rotation(
    rotated: str, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    proof = prove_late_record(rotated, tmp_path)
    code, out, _ = run("verify-proof", str(proof), "--public-key", str(key_files[1]))
    assert code == 0, out
    assert out.startswith(f"VALID: record {2 * LAST} is in ")


def test_without_the_rotation_statements_the_old_key_alone_is_inconclusive(
    rotated: str, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    proof = prove_late_record(rotated, tmp_path)
    data = json.loads(proof.read_text())
    proof.write_text(json.dumps(data | {"rotations": []}))
    code, out, _ = run("verify-proof", str(proof), "--public-key", str(key_files[1]))
    assert code == 2, out
    assert "signed only by keys you do not hold" in out


def test_a_rotation_statement_naming_the_attackers_key_is_not_followed(
    rotated: str, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    proof = prove_late_record(rotated, tmp_path)
    data = json.loads(proof.read_text())
    [statement] = data["rotations"]
    new_key = json.loads(statement["body"])["entry"]["details"]["new_key"]
    attacker = SigningKey.generate("next").verifier.text()
    statement["body"] = statement["body"].replace(new_key, attacker)
    proof.write_text(json.dumps(data))
    code, _, _ = run("verify-proof", str(proof), "--public-key", str(key_files[1]))
    assert code == 2


def test_a_consistency_proof_across_the_rotation_verifies_with_the_old_key(
    sqlite_url: str, writer_keys: WriterKeys, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        build_log(sqlite_url, log)
    old = tmp_path / "old.checkpoint"
    old.write_text(run("checkpoint", "--db", sqlite_url, "--key-file", str(key_files[0]))[1])
    assert run("rotate-key", "--db", sqlite_url, "--key-file", str(key_files[0]))[0] == 0
    with SqlAuditLog(sqlite_url, keys=WriterKeys.from_file(key_files[0])) as log:
        build_log(sqlite_url, log)  # the newest checkpoint is signed by the new key only
    proof = tmp_path / "c.json"
    args = ("prove-consistency", "--old", str(old), "--db", sqlite_url, "--out", str(proof))
    assert run(*args)[0] == 0
    assert run("verify-proof", str(proof), "--public-key", str(key_files[1]))[0] == 0


def test_prove_into_a_missing_directory_fails_cleanly(
    sqlite_url: str, writer_keys: WriterKeys, tmp_path: Path
) -> None:
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        build_log(sqlite_url, log)
    target = tmp_path / "missing" / "proof.json"
    code, _, err = run("prove", "1", "--db", sqlite_url, "--out", str(target))
    assert code == 2
    assert f"directory {target.parent} does not exist" in err
