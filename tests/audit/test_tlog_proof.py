"""``prove --format tlog-proof`` writes a C2SP tlog-proof that checks by the spec alone.

The check below is written from the specs, not with our helpers: leaf = SHA-256(0x00 ||
SHA-256(record body)), index = seq - 1, the RFC 9162 inclusion algorithm, and the
checkpoint's Ed25519 note signature under the auditor's verifier key.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from typer.testing import CliRunner

from firewall.audit.keyfiles import KEY_FILE_ENV, WriterKeys
from firewall.audit.store import SqlAuditLog
from firewall.cli.audit import app
from tests.audit.tampering import LAST, MIDDLE, build_log

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


@pytest.fixture
def proof_file(sqlite_url: str, writer_keys: WriterKeys, tmp_path: Path) -> Path:
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        build_log(sqlite_url, log)
    out = tmp_path / "refund.tlog-proof"
    args = ["prove", str(MIDDLE), "--db", sqlite_url, "--format", "tlog-proof", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def rfc9162_root(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, transcribed."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        assert sn != 0
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    return r


def test_the_tlog_proof_verifies_by_the_specs_alone(
    proof_file: Path, key_files: tuple[Path, Path]
) -> None:
    head, _, checkpoint = proof_file.read_text().partition("\n\n")
    header, extra, index_line, *path_lines = head.split("\n")
    assert header == "c2sp.org/tlog-proof@v1"
    body = base64.b64decode(extra.removeprefix("extra "))
    index = int(index_line.removeprefix("index "))
    assert index == MIDDLE - 1
    leaf = hashlib.sha256(b"\x00" + hashlib.sha256(body).digest()).digest()
    text, _, signatures = checkpoint.rpartition("\n\n")
    origin, size, root = text.split("\n")
    path = [base64.b64decode(line) for line in path_lines]
    assert rfc9162_root(index, int(size), leaf, path) == base64.b64decode(root)
    assert int(size) == LAST
    name, key_hash, encoded = key_files[1].read_text().strip().split("+", 2)
    vkey = base64.b64decode(encoded)
    key_id = hashlib.sha256(name.encode() + b"\n" + vkey).digest()[:4]
    assert key_id.hex() == key_hash
    lines = [line.split(" ") for line in signatures.strip().split("\n")]
    signed = [base64.b64decode(sig) for _, n, sig in lines if n == name]
    [raw] = [sig for sig in signed if sig[:4] == key_id]
    Ed25519PublicKey.from_public_bytes(vkey[1:]).verify(raw[4:], (text + "\n").encode())
    assert origin.startswith("agent-firewall/audit/")


def test_verify_proof_reads_a_tlog_proof(proof_file: Path, key_files: tuple[Path, Path]) -> None:
    args = ["verify-proof", str(proof_file), "--public-key", str(key_files[1])]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"VALID: record {MIDDLE} is in ")


def test_a_tlog_proof_for_another_record_body_is_invalid(
    proof_file: Path, key_files: tuple[Path, Path]
) -> None:
    lines = proof_file.read_text().split("\n")
    body = base64.b64decode(lines[1].removeprefix("extra ")).replace(b'"amount":40', b'"amount":9')
    lines[1] = "extra " + base64.b64encode(body).decode()
    proof_file.write_text("\n".join(lines))
    args = ["verify-proof", str(proof_file), "--public-key", str(key_files[1])]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
