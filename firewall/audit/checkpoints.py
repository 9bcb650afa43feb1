"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes.

A checkpoint reads::

    agent-firewall/audit/3f9c...          <- origin: the log's identity
    1204                                  <- tree size = number of records
    Zm9vYmFy...=                          <- base64 Merkle root (RFC 6962)
    chain sha256:4be1...                  <- extension: hash of record 1204 (chain head)
    time 2025-01-31T09:00:00.000000+00:00 <- extension: when it was signed

    — firewall-audit-2025 AbCdEf...       <- per signature: name, base64(key ID || sig)

The body (up to the blank line) is what is signed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from firewall.audit.keys import SigningKey, VerifierKey
from firewall.audit.records import HASH_PATTERN, TIME_PATTERN
from firewall.errors import AuditError

SIGNATURE_DASH = "\u2014"
SIGNATURE_LINE = re.compile(rf"{SIGNATURE_DASH} (\S+) (\S+)")
SIZE_PATTERN = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Checkpoint:
    """What one signed statement says about the log."""

    origin: str
    size: int
    root: bytes
    chain: str
    time: str

    def body(self) -> str:
        """The signed text, ending with a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root}\nchain {self.chain}\ntime {self.time}\n"

    @property
    def moment(self) -> datetime:
        """``time`` as a datetime."""
        return datetime.fromisoformat(self.time)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes."""

    name: str
    key_hash: int
    signature: bytes


@dataclass(frozen=True)
class SignedCheckpoint:
    """A parsed checkpoint note."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]
    body: str
    text: str

    @property
    def message(self) -> bytes:
        """The bytes the signatures cover: the body as written, final newline included."""
        return self.body.encode("utf-8")


def sign_checkpoint(checkpoint: Checkpoint, keys: Sequence[SigningKey]) -> str:
    """The note text of ``checkpoint`` signed by every key of ``keys``."""
    body = checkpoint.body()
    lines = []
    for key in keys:
        tag = key.verifier.key_hash.to_bytes(4, "big") + key.sign(body.encode("utf-8"))
        lines.append(f"{SIGNATURE_DASH} {key.name} {base64.b64encode(tag).decode('ascii')}\n")
    return body + "\n" + "".join(lines)


def parse_checkpoint(text: str) -> SignedCheckpoint:
    """Parse a checkpoint note; :class:`AuditError` says which line is wrong."""
    body, separator, signature_text = text.partition("\n\n")
    if not separator:
        raise AuditError("not a signed checkpoint: no blank line before the signatures")
    checkpoint = _parse_body(body.split("\n"))
    signatures = tuple(_parse_signature(line) for line in signature_text.splitlines())
    if not signatures:
        raise AuditError("checkpoint has no signature lines")
    return SignedCheckpoint(
        checkpoint=checkpoint, signatures=signatures, body=body + "\n", text=text
    )


def _parse_body(lines: list[str]) -> Checkpoint:
    if len(lines) < 3:
        raise AuditError("checkpoint body needs origin, size and root lines")
    origin, size_text, root_text, *extensions = lines
    if not origin or any(char.isspace() or char == "+" for char in origin):
        raise AuditError(f"checkpoint origin {origin!r} is invalid")
    if SIZE_PATTERN.fullmatch(size_text) is None:
        raise AuditError(f"checkpoint size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise AuditError("checkpoint root is not base64") from exc
    if len(root) != 32:
        raise AuditError(f"checkpoint root has {len(root)} bytes, not 32")
    chain, time = _parse_extensions(extensions)
    return Checkpoint(origin=origin, size=int(size_text), root=root, chain=chain, time=time)


def _parse_extensions(lines: Iterable[str]) -> tuple[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(" ")
        found.setdefault(name, value)
    chain, time = found.get("chain", ""), found.get("time", "")
    if HASH_PATTERN.fullmatch(chain) is None:
        raise AuditError("checkpoint lacks a valid 'chain sha256:<hex>' line")
    if TIME_PATTERN.fullmatch(time) is None:
        raise AuditError("checkpoint lacks a valid 'time <UTC ISO-8601>' line")
    return chain, time


def _parse_signature(line: str) -> NoteSignature:
    match = SIGNATURE_LINE.fullmatch(line)
    if match is None:
        raise AuditError(f"malformed signature line {line[:40]!r}")
    try:
        raw = base64.b64decode(match.group(2), validate=True)
    except binascii.Error as exc:
        raise AuditError(f"signature of {match.group(1)!r} is not base64") from exc
    if len(raw) != 68:
        raise AuditError(f"signature of {match.group(1)!r} is not an Ed25519 signature")
    return NoteSignature(
        name=match.group(1), key_hash=int.from_bytes(raw[:4], "big"), signature=raw[4:]
    )


def signature_status(note: SignedCheckpoint, keys: Iterable[VerifierKey]) -> tuple[str, str]:
    """``("verified" | "bad_signature" | "unknown_key", key names)`` of ``note``."""
    by_id = {(key.name, key.key_hash): key for key in keys}
    good: list[str] = []
    bad: list[str] = []
    for line in note.signatures:
        key = by_id.get((line.name, line.key_hash))
        if key is not None:
            (good if key.verify(note.message, line.signature) else bad).append(key.key_id)
    if bad:
        return "bad_signature", ", ".join(bad)
    if good:
        return "verified", ", ".join(good)
    return "unknown_key", ", ".join(f"{s.name}+{s.key_hash:08x}" for s in note.signatures)
