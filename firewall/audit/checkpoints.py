"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes.

A checkpoint reads::

    example.com/audit                     <- origin: the log's identity
    1204                                  <- tree size = number of records
    Zm9vYmFy...=                          <- base64 Merkle root (RFC 6962)

    — example.com/audit AbCdEf...         <- Ed25519 note signature by the log's key
    — example.com/audit GhIjKl...         <- cosignature/v1 by the same key: the time
    — witness.example/w1 MnOpQr...        <- cosignature/v1 by a witness (optional)

The body (up to the blank line) is what is signed. It has no extension lines, so two
checkpoints of the same size are the same note text and witnesses can merge their
cosignatures. When it was signed is the timestamp of the log key's own cosignature/v1
line (c2sp.org/tlog-cosignature). Logs written before carried ``chain <hash>`` and
``time <ISO-8601>`` extension lines; those still parse.

Per the signed-note spec, signature lines from keys a verifier does not know are
ignored, whatever their length; a line from a known key must verify.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from firewall.audit.cosignatures import (
    COSIGNATURE_LENGTH,
    SIGNATURE_DASH,
    CosignerKey,
    cosignature_line,
    verified_timestamps,
)
from firewall.audit.keys import SigningKey, VerifierKey, check_name
from firewall.audit.records import HASH_PATTERN, TIME_PATTERN, format_time
from firewall.errors import AuditError

SIGNATURE_LINE = re.compile(rf"{SIGNATURE_DASH} (\S+) (\S+)")
SIZE_PATTERN = re.compile(r"0|[1-9][0-9]{0,18}")
MAX_SIGNATURES = 100


@dataclass(frozen=True)
class Checkpoint:
    """What one signed statement says about the log (``chain``/``time``: legacy lines)."""

    origin: str
    size: int
    root: bytes
    chain: str | None = None
    time: str | None = None

    def body(self) -> str:
        """The signed text, ending with a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        legacy = (f"chain {self.chain}\n" if self.chain else "") + (
            f"time {self.time}\n" if self.time else ""
        )
        return f"{self.origin}\n{self.size}\n{root}\n{legacy}"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the bytes after the key ID."""

    name: str
    key_hash: int
    signature: bytes


@dataclass(frozen=True)
class SignedNote:
    """A parsed signed note: its text (the body) and signature lines."""

    body: str
    signatures: tuple[NoteSignature, ...]
    text: str

    @property
    def message(self) -> bytes:
        """The bytes the signatures cover: the body as written, final newline included."""
        return self.body.encode("utf-8")


@dataclass(frozen=True)
class SignedCheckpoint(SignedNote):
    """A parsed checkpoint note."""

    checkpoint: Checkpoint

    @property
    def claimed_time(self) -> str | None:
        """When the note says it was signed (unverified: for naming and ordering only)."""
        stamps = [
            cosignature_time(line.signature)
            for line in self.signatures
            if len(line.signature) == COSIGNATURE_LENGTH
        ]
        return self.checkpoint.time or max(stamps, default=None)


def cosignature_time(signature: bytes) -> str:
    """The timestamp of a cosignature/v1 signature (after the key ID), as a time string."""
    seconds = int.from_bytes(signature[:8], "big")
    try:
        return format_time(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return format_time(datetime.max.replace(tzinfo=UTC))


def sign_checkpoint(
    checkpoint: Checkpoint, keys: Sequence[SigningKey], timestamp: int | None = None
) -> str:
    """The note of ``checkpoint`` signed by every key; ``timestamp``: each key's time line."""
    body = checkpoint.body()
    lines = []
    for key in keys:
        tag = key.verifier.key_hash.to_bytes(4, "big") + key.sign(body.encode("utf-8"))
        lines.append(f"{SIGNATURE_DASH} {key.name} {base64.b64encode(tag).decode('ascii')}\n")
        if timestamp is not None:
            lines.append(cosignature_line(key, body, timestamp))
    return body + "\n" + "".join(lines)


def parse_note(text: str) -> SignedNote:
    """Parse a signed note; :class:`AuditError` if it is malformed (signed-note spec)."""
    if any(char < " " and char != "\n" for char in text):
        raise AuditError("not a signed note: it holds control characters")
    body, separator, signature_text = text.rpartition("\n\n")
    if not separator or not text.endswith("\n"):
        raise AuditError("not a signed checkpoint: no blank line before the signatures")
    signatures = tuple(_parse_signature(line) for line in signature_text[:-1].split("\n"))
    if len(signatures) > MAX_SIGNATURES:
        raise AuditError(f"note has more than {MAX_SIGNATURES} signatures")
    return SignedNote(body=body + "\n", signatures=signatures, text=text)


def parse_checkpoint(text: str) -> SignedCheckpoint:
    """Parse a checkpoint note; :class:`AuditError` says which line is wrong."""
    if "\n\n" in text and not text.rpartition("\n\n")[2].strip():
        raise AuditError("checkpoint has no signature lines")
    note = parse_note(text)
    checkpoint = _parse_body(note.body[:-1].split("\n"))
    return SignedCheckpoint(
        body=note.body, signatures=note.signatures, text=text, checkpoint=checkpoint
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


def _parse_extensions(lines: Iterable[str]) -> tuple[str | None, str | None]:
    """The legacy ``chain``/``time`` lines; other extension lines are opaque."""
    found: dict[str, str] = {}
    for line in lines:
        if not line:
            raise AuditError("checkpoint extension lines must not be empty")
        name, _, value = line.partition(" ")
        found.setdefault(name, value)
    chain, time = found.get("chain"), found.get("time")
    if chain is not None and HASH_PATTERN.fullmatch(chain) is None:
        raise AuditError("checkpoint has a malformed 'chain sha256:<hex>' line")
    if time is not None and TIME_PATTERN.fullmatch(time) is None:
        raise AuditError("checkpoint has a malformed 'time <UTC ISO-8601>' line")
    return chain, time


def _parse_signature(line: str) -> NoteSignature:
    match = SIGNATURE_LINE.fullmatch(line)
    if match is None:
        raise AuditError(f"malformed signature line {line[:40]!r}")
    name = match.group(1)
    try:
        check_name(name)
        raw = base64.b64decode(match.group(2), validate=True)
    except (AuditError, binascii.Error) as exc:
        raise AuditError(f"malformed signature line of {name[:40]!r}") from exc
    if len(raw) < 5:
        raise AuditError(f"signature of {name!r} is too short")
    return NoteSignature(name=name, key_hash=int.from_bytes(raw[:4], "big"), signature=raw[4:])


def signature_status(note: SignedNote, keys: Iterable[VerifierKey]) -> tuple[str, str]:
    """``("verified" | "bad_signature" | "unknown_key", key names)`` of ``note``.

    Lines whose name and key ID match no key in ``keys`` are ignored (witnesses,
    cosignatures, keys the auditor does not hold).
    """
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


def signed_time(note: SignedCheckpoint, keys: Iterable[VerifierKey]) -> str | None:
    """When a key of ``keys`` signed ``note``: its valid cosignature/v1 time, or the
    legacy ``time`` line (covered by the note signature)."""
    if note.checkpoint.time is not None:
        return note.checkpoint.time
    stamps = verified_timestamps(note, [CosignerKey.of(key) for key in keys])
    return max((cosignature_time(s.to_bytes(8, "big")) for s in stamps), default=None)
