"""Witness-cosigned checkpoints verify end to end; a witness quorum bounds what is trusted.

The witness here is an outsider: it reads a checkpoint file from an exported bundle,
appends its own cosignature/v1 line (as c2sp.org/tlog-witness witnesses return them),
and writes the file back. Nothing of ours signs for it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from freezegun import freeze_time
from typer.testing import CliRunner

from firewall.audit.checkpoints import parse_checkpoint, sign_checkpoint
from firewall.audit.keyfiles import KEY_FILE_ENV, WriterKeys
from firewall.audit.records import GENESIS_HASH
from firewall.audit.store import SqlAuditLog
from firewall.cli.audit import app
from tests.audit.tampering import LAST, build_log

OpenLog = Callable[..., SqlAuditLog]
runner = CliRunner()
WITNESS_NAME = "witness.example/w1"


class Witness:
    """A witness holding its own Ed25519 key, written from the spec with ``cryptography``."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        digest = hashlib.sha256(WITNESS_NAME.encode() + b"\n\x04" + self.public).digest()
        self.key_id = digest[:4]

    def vkey(self) -> str:
        encoded = base64.b64encode(b"\x04" + self.public).decode()
        return f"{WITNESS_NAME}+{self.key_id.hex()}+{encoded}"

    def cosign(self, note: str, timestamp: int = 1738314000) -> str:
        body = note[: note.rindex("\n\n") + 1]
        message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
        raw = self.key_id + timestamp.to_bytes(8, "big") + self.key.sign(message)
        return note + f"\u2014 {WITNESS_NAME} {base64.b64encode(raw).decode()}\n"


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


@pytest.fixture
def bundle(sqlite_url: str, writer_keys: WriterKeys, tmp_path: Path) -> Path:
    with SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        build_log(sqlite_url, log)
        log.export(tmp_path / "bundle")
    return tmp_path / "bundle"


def checkpoint_files(bundle: Path) -> list[Path]:
    return sorted((bundle / "checkpoints").glob("*.checkpoint"))


def cosign_files(bundle: Path, witness: Witness, *, newest_only: bool = False) -> None:
    paths = checkpoint_files(bundle)
    for path in paths[-1:] if newest_only else paths:
        path.write_text(witness.cosign(path.read_text()))


def verify(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["verify", *args], env={"COLUMNS": "250"})
    return result.exit_code, result.stdout


def witness_file(tmp_path: Path, witness: Witness) -> Path:
    path = tmp_path / "w1.vkey"
    path.write_text(witness.vkey() + "\n")
    return path


def test_a_bundle_whose_checkpoints_carry_a_witness_line_still_verifies(
    bundle: Path, key_files: tuple[Path, Path]
) -> None:
    cosign_files(bundle, Witness())
    code, out = verify("--bundle", str(bundle), "--public-key", str(key_files[1]))
    assert (code, out.splitlines()[0][:3]) == (0, "OK:"), out


def test_a_quorum_of_one_trusted_witness_is_met_by_its_cosignature(
    bundle: Path, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    witness = Witness()
    cosign_files(bundle, witness, newest_only=True)
    code, out = verify(
        "--bundle", str(bundle), "--public-key", str(key_files[1]),
        "--witness-key", str(witness_file(tmp_path, witness)),
    )  # fmt: skip
    assert code == 0, out
    assert f"cosigned by your witness quorum through seq {LAST}" in out


def test_records_past_the_last_witnessed_checkpoint_are_an_unwitnessed_tail(
    bundle: Path, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    witness = Witness()
    code, out = verify(
        "--bundle", str(bundle), "--public-key", str(key_files[1]),
        "--witness-key", str(witness_file(tmp_path, witness)), "--json",
    )  # fmt: skip
    assert code == 2
    assert '"kind": "unwitnessed_tail"' in out
    assert '"witnessed_through": 0' in out


def test_a_forged_cosignature_of_a_trusted_witness_is_a_bad_signature(
    bundle: Path, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    witness, impostor = Witness(), Witness()
    impostor.key_id = witness.key_id  # claims to be the trusted witness
    cosign_files(bundle, impostor, newest_only=True)
    code, out = verify(
        "--bundle", str(bundle), "--public-key", str(key_files[1]),
        "--witness-key", str(witness_file(tmp_path, witness)), "--json",
    )  # fmt: skip
    assert code == 1
    assert "forged cosignature" in out


def test_a_quorum_larger_than_the_witnesses_given_is_refused(
    bundle: Path, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    code, out = verify(
        "--bundle", str(bundle), "--public-key", str(key_files[1]),
        "--witness-key", str(witness_file(tmp_path, Witness())), "--witness-quorum", "2",
    )  # fmt: skip
    assert code == 2
    assert "--witness-quorum 2 needs at least that many" in out


def test_two_checkpoints_of_the_same_size_are_the_same_note_text(
    sqlite_url: str, writer_keys: WriterKeys
) -> None:
    """No extension lines: witnesses can merge cosignatures of equal checkpoints."""
    with (
        freeze_time("2025-01-31 09:00:00") as frozen,
        SqlAuditLog(sqlite_url, keys=writer_keys) as log,
    ):
        build_log(sqlite_url, log)
        first = log.checkpoint()
        frozen.tick(timedelta(seconds=3600))
        second = log.checkpoint()
    assert first is not None
    assert second is not None
    first_body, second_body = (note[: note.rindex("\n\n") + 1] for note in (first, second))
    assert first_body == second_body
    assert len(first_body.splitlines()) == 3
    assert first != second  # the log's own cosignature/v1 line says when each was signed


def test_the_logs_time_line_is_a_spec_cosignature_by_its_own_key(
    sqlite_url: str, writer_keys: WriterKeys, key_files: tuple[Path, Path]
) -> None:
    """Checked by hand from the specs: key ID type 0x04, message header, POSIX seconds."""
    with freeze_time("2025-01-31 09:00:00"), SqlAuditLog(sqlite_url, keys=writer_keys) as log:
        build_log(sqlite_url, log)
        note = log.checkpoint()
    assert note is not None
    name, _, encoded = key_files[1].read_text().strip().split("+", 2)
    public = base64.b64decode(encoded)[1:]
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    body = note[: note.rindex("\n\n") + 1]
    lines = [line.split(" ") for line in note[len(body) + 1 :].strip().split("\n")]
    [raw] = [base64.b64decode(sig) for _, n, sig in lines if base64.b64decode(sig)[:4] == key_id]
    timestamp = int.from_bytes(raw[4:12], "big")
    assert timestamp == 1738314000  # 2025-01-31T09:00:00Z
    message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
    assert name in {n for _, n, _ in lines}


def test_checkpoints_written_before_this_format_still_verify(
    bundle: Path, writer_keys: WriterKeys, key_files: tuple[Path, Path]
) -> None:
    """Old logs carry 'chain' and 'time' extension lines; they keep verifying."""
    hashes = [line[9:80] for line in (bundle / "records.jsonl").read_text().splitlines()]
    for path in checkpoint_files(bundle):
        note = parse_checkpoint(path.read_text())
        checkpoint = note.checkpoint
        chain = hashes[checkpoint.size - 1] if checkpoint.size else GENESIS_HASH
        # An old writer's time line said when it signed, as the new cosignature line does.
        legacy = replace(checkpoint, chain=chain, time=note.claimed_time)
        path.write_text(sign_checkpoint(legacy, [writer_keys.signing]))
    code, out = verify("--bundle", str(bundle), "--public-key", str(key_files[1]))
    assert code == 0, out
    assert f"signed through seq {LAST}" in out


def test_a_witness_cosigned_off_box_checkpoint_vouches_for_the_database_log(
    sqlite_url: str, writer_keys: WriterKeys, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """The flow the README describes: mirror off the box, a witness cosigns, audit."""
    offbox = tmp_path / "offbox"
    with SqlAuditLog(sqlite_url, keys=writer_keys, checkpoint_dir=offbox) as log:
        build_log(sqlite_url, log)
        log.checkpoint()
    witness = Witness()
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(witness.cosign((offbox / "latest.checkpoint").read_text()))
    code, out = verify(
        "--db", sqlite_url, "--public-key", str(key_files[1]), "--trusted-checkpoint", str(kept),
        "--witness-key", str(witness_file(tmp_path, witness)),
    )  # fmt: skip
    assert code == 0, out
    assert f"cosigned by your witness quorum through seq {LAST}" in out


def test_the_logs_own_time_line_never_counts_as_a_witness(
    bundle: Path, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """Naming the log's key as a witness does not let the log witness itself."""
    name, _, encoded = key_files[1].read_text().strip().split("+", 2)
    public = base64.b64decode(encoded)[1:]
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    own = tmp_path / "own.vkey"
    vkey = base64.b64encode(b"\x04" + public).decode()
    own.write_text(f"{name}+{key_id.hex()}+{vkey}\n")
    code, out = verify(
        "--bundle", str(bundle), "--public-key", str(key_files[1]), "--witness-key", str(own),
        "--json",
    )  # fmt: skip
    assert code == 2, out
    assert '"kind": "unwitnessed_tail"' in out
