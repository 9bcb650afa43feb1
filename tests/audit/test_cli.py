"""``firewall audit ...``: output and exit codes of every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firewall.audit.keyfiles import KEY_FILE_ENV, WriterKeys, ensure_dev_key
from firewall.audit.store import SqlAuditLog
from firewall.cli.audit import app
from tests.audit.tampering import ALICE, LAST, MIDDLE, build_log, edit_entry

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


@pytest.fixture
def url(sqlite_url: str, writer_keys: WriterKeys) -> str:
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        build_log(sqlite_url, log)
    return sqlite_url


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=WIDE)
    return result.exit_code, result.stdout, result.stderr


def test_verify_prints_ok_and_exits_0(url: str, key_files: tuple[Path, Path]) -> None:
    code, out, _ = run("verify", "--db", url, "--public-key", str(key_files[1]))
    assert code == 0
    assert out.startswith(f"OK: {LAST} records (seq 1..{LAST}) verified, head sha256:")
    assert f"signed through seq {LAST}" in out.splitlines()[1]


def test_verify_prints_the_first_bad_record_and_exits_1(
    url: str, key_files: tuple[Path, Path]
) -> None:
    edit_entry(url, MIDDLE, rehash=False, tool="wire_money")
    code, out, _ = run("verify", "--db", url, "--public-key", str(key_files[1]))
    assert code == 1
    assert out.startswith(f"TAMPERED: first bad record seq {MIDDLE}: hash_mismatch: expected ")
    assert f"  seq {MIDDLE}: hash_mismatch: " in out


def test_verify_without_a_key_exits_2(url: str) -> None:
    code, out, _ = run("verify", "--db", url)
    assert code == 2
    assert out.startswith("INCONCLUSIVE: no trusted public key")


def test_verify_checks_the_checkpoint_policy_of_the_config_or_the_options(
    url: str, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    config = tmp_path / "firewall.toml"
    config.write_text(
        '[[tools]]\nname = "crm_lookup"\nscope = "crm:read"\n\n'
        "[audit.checkpoints]\nevery_records = 2\n",
        encoding="utf-8",
    )
    base = ("verify", "--db", url, "--public-key", str(key_files[1]), "--config", str(config))
    code, out, _ = run(*base)
    assert code == 1
    assert "checkpoint_missing" in out
    assert run(*base, "--checkpoint-every", "1000")[0] == 0


def test_verify_json_prints_the_report(url: str, key_files: tuple[Path, Path]) -> None:
    code, out, _ = run("verify", "--db", url, "--public-key", str(key_files[1]), "--json")
    report = json.loads(out)
    assert (code, report["status"], report["records_checked"]) == (0, "valid", LAST)


def test_verify_trusts_the_dev_key_of_a_data_dir_and_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'firewall.db'}"
    with SqlAuditLog(url, keys=WriterKeys.from_file(ensure_dev_key(tmp_path))) as log:
        build_log(url, log)
    code, out, _ = run("verify", "--data-dir", str(tmp_path))
    assert code == 0
    assert out.startswith("note: no --public-key given; trusting the local key(s) ")


def test_export_then_verify_the_bundle_offline(
    url: str, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    code, out, _ = run("export", "--db", url, "--out", str(tmp_path / "bundle"))
    assert (code, out.strip()) == (
        0,
        f"exported {LAST} records and 2 checkpoints to {tmp_path / 'bundle'}",
    )
    checkpoints = sorted((tmp_path / "bundle" / "checkpoints").iterdir())
    code, out, _ = run(
        "verify",
        "--bundle",
        str(tmp_path / "bundle"),
        "--public-key",
        str(key_files[1]),
        "--trusted-checkpoint",
        str(checkpoints[-1]),
    )
    assert code == 0, out


def test_show_prints_records_and_reveal_decrypts_them(
    url: str, key_files: tuple[Path, Path]
) -> None:
    key = ("--public-key", str(key_files[1]))
    code, out, _ = run("show", "--db", url, "--limit", "3", *key)
    assert code == 0
    assert "issue_refund" in out
    assert "jane@example.com" not in out
    code, out, _ = run("show", "--db", url, "--call-id", "call_1", "--reveal", *key)
    shown = json.loads(out)
    assert [record["seq"] for record in shown] == [1, 2]
    assert shown[0]["args"]["email"] == "jane@example.com"
    assert shown[0]["principal"]["on_behalf_of"] == ALICE["on_behalf_of"]


def test_show_without_a_trusted_key_shows_nothing_and_exits_2(url: str) -> None:
    code, out, err = run("show", "--db", url, "--json")
    assert (code, json.loads(out)) == (2, [])
    assert f"withheld {LAST} record(s) after seq 0: not verified" in err
    assert "INCONCLUSIVE: no trusted public key" in err


def test_erase_destroys_the_subject_and_show_marks_it_erased(
    url: str, key_files: tuple[Path, Path]
) -> None:
    code, out, _ = run(
        "erase", "--subject", ALICE["on_behalf_of"], "--db", url, "--key-file", str(key_files[0])
    )
    assert code == 0
    assert out.startswith(f"erased {ALICE['on_behalf_of']}: audit log: pseudonym s_")
    assert out.strip().endswith("DONE: the subject's keys are gone from these database files")
    code, out, _ = run(
        "erase", "--subject", ALICE["on_behalf_of"], "--db", url, "--key-file", str(key_files[0])
    )
    assert (code, out.splitlines()[0]) == (
        0,
        f"no personal data held for {ALICE['on_behalf_of']}; nothing erased",
    )
    shown = json.loads(
        run(
            "show",
            "--db",
            url,
            "--call-id",
            "call_1",
            "--reveal",
            "--public-key",
            str(key_files[1]),
        )[1]
    )
    assert shown[0]["args"]["email"] == "[erased]"
    code, out, _ = run("verify", "--db", url, "--public-key", str(key_files[1]))
    assert code == 0
    assert "1 erased subject(s)" in out
    assert "Erased subjects: 1 (not tampering)" in out


def test_keygen_writes_the_key_pair(tmp_path: Path) -> None:
    code, out, _ = run("keygen", "--out", str(tmp_path), "--name", "acme-audit")
    assert code == 0
    assert (tmp_path / "acme-audit.key").stat().st_mode & 0o777 == 0o600
    assert out.splitlines()[-1] == (tmp_path / "acme-audit.pub").read_text().strip()


def test_checkpoint_signs_the_head_now_and_copies_it(
    url: str, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    code, out, _ = run(
        "checkpoint",
        "--db",
        url,
        "--key-file",
        str(key_files[0]),
        "--out",
        str(tmp_path / "offbox"),
    )
    assert code == 0
    assert out.splitlines()[1] == str(LAST)
    assert (tmp_path / "offbox" / "latest.checkpoint").read_text() == out


def test_prove_and_verify_proof(url: str, key_files: tuple[Path, Path], tmp_path: Path) -> None:
    proof = tmp_path / "proof.json"
    assert run("prove", str(MIDDLE), "--db", url, "--out", str(proof))[0] == 0
    code, out, _ = run("verify-proof", str(proof), "--public-key", str(key_files[1]))
    assert code == 0
    assert out.startswith(f"VALID: record {MIDDLE} is in agent-firewall/audit/")
    assert '"tool": "issue_refund"' in out
    assert run("verify-proof", str(proof))[0] == 2
    data = json.loads(proof.read_text())
    proof.write_text(json.dumps(data | {"body": data["body"].replace("40", "4000")}))
    assert run("verify-proof", str(proof), "--public-key", str(key_files[1]))[0] == 1


def test_prove_consistency_between_two_checkpoints(
    url: str, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    old = tmp_path / "old.checkpoint"
    old.write_text(run("checkpoint", "--db", url, "--key-file", str(key_files[0]))[1])
    with SqlAuditLog(url, keys=WriterKeys.from_file(key_files[0])) as log:
        build_log(url, log)
    proof = tmp_path / "consistency.json"
    assert run("prove-consistency", "--old", str(old), "--db", url, "--out", str(proof))[0] == 0
    code, out, _ = run("verify-proof", str(proof), "--public-key", str(key_files[1]))
    assert (code, out.strip()) == (0, f"VALID: size {LAST} is a prefix of size {2 * LAST}")


def test_proving_a_record_the_log_does_not_have_fails_cleanly(url: str) -> None:
    code, _, err = run("prove", "99", "--db", url)
    assert (code, err.strip()) == (2, "error: the log has no record 99")


def test_rotate_key_keeps_the_log_verifiable_with_the_old_public_key(
    url: str, key_files: tuple[Path, Path]
) -> None:
    code, out, _ = run(
        "rotate-key", "--db", url, "--key-file", str(key_files[0]), "--name", "test-writer-2"
    )
    assert code == 0
    assert out.startswith("rotated test-writer+")
    assert (key_files[0].parent / "test-writer-2.pub").exists()
    assert WriterKeys.from_file(key_files[0]).signing.name == "test-writer-2"
    assert run("verify", "--db", url, "--public-key", str(key_files[1]))[0] == 0
