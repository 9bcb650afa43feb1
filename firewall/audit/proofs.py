"""Inclusion and consistency proofs an auditor checks offline, with only a public key.

An inclusion proof carries one record's exact body, its Merkle audit path and a signed
checkpoint: it shows that record (one refund, say) is in the log the checkpoint vouches
for, without the rest of the log. A consistency proof shows that the log behind an
older checkpoint is a prefix of the log behind a newer one: nothing was rewritten.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Literal

from firewall.audit.checkpoints import SignedCheckpoint, parse_checkpoint, signature_status
from firewall.audit.keys import VerifierKey
from firewall.audit.merkle import (
    consistency_path,
    inclusion_path,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from firewall.audit.records import HASH_PREFIX, AuditRecord, hash_body
from firewall.errors import AuditError
from firewall.types import Frozen

INCLUSION_FORMAT: Literal["agent-firewall-inclusion-proof/1"] = "agent-firewall-inclusion-proof/1"
CONSISTENCY_FORMAT: Literal["agent-firewall-consistency-proof/1"] = (
    "agent-firewall-consistency-proof/1"
)


class RotationStatement(Frozen):
    """A ``key_rotated`` record (``body``, at ``seq``) and its audit path to ``checkpoint``,
    a checkpoint signed by the old key: the old key's statement that the new key follows."""

    seq: int
    body: str
    path: tuple[str, ...]
    checkpoint: str


class InclusionProof(Frozen):
    """Record ``seq`` (its exact ``body``) is leaf ``seq - 1`` of the checkpoint's tree.

    ``rotations`` let a verifier holding an older key reach the key that signed it.
    """

    format: Literal["agent-firewall-inclusion-proof/1"] = INCLUSION_FORMAT
    seq: int
    body: str
    path: tuple[str, ...]
    checkpoint: str
    rotations: tuple[RotationStatement, ...] = ()


class ConsistencyProof(Frozen):
    """The tree of ``old_checkpoint`` is a prefix of the tree of ``new_checkpoint``."""

    format: Literal["agent-firewall-consistency-proof/1"] = CONSISTENCY_FORMAT
    old_checkpoint: str
    new_checkpoint: str
    path: tuple[str, ...]
    rotations: tuple[RotationStatement, ...] = ()


class ProofCheck(Frozen):
    """The verdict on a proof: ``valid``, ``invalid`` or ``inconclusive`` (no trusted key)."""

    status: Literal["valid", "invalid", "inconclusive"]
    message: str
    record: AuditRecord | None = None

    @property
    def exit_code(self) -> int:
        """0 valid, 1 invalid, 2 inconclusive."""
        return {"valid": 0, "invalid": 1, "inconclusive": 2}[self.status]


def _encode(path: Sequence[bytes]) -> tuple[str, ...]:
    return tuple(base64.b64encode(node).decode("ascii") for node in path)


def _decode(path: Sequence[str]) -> list[bytes]:
    try:
        return [base64.b64decode(node, validate=True) for node in path]
    except ValueError as exc:
        raise AuditError(f"proof path is not base64: {exc}") from exc


def _leaf_of(body: str) -> bytes:
    return leaf_hash(bytes.fromhex(hash_body(body)[len(HASH_PREFIX) :]))


def build_inclusion(seq: int, body: str, leaves: Sequence[bytes], note: str) -> InclusionProof:
    """The proof for record ``seq`` against ``note``, whose tree has ``leaves`` (raw hashes)."""
    checkpoint = parse_checkpoint(note).checkpoint
    hashed = [leaf_hash(leaf) for leaf in leaves[: checkpoint.size]]
    if not 1 <= seq <= checkpoint.size or len(hashed) < checkpoint.size:
        raise AuditError(f"record {seq} is not covered by a checkpoint of size {checkpoint.size}")
    if tree_root(hashed) != checkpoint.root:
        raise AuditError("the checkpoint does not match the log's records: verify the log")
    return InclusionProof(
        seq=seq, body=body, path=_encode(inclusion_path(seq - 1, hashed)), checkpoint=note
    )


def build_consistency(old_note: str, new_note: str, leaves: Sequence[bytes]) -> ConsistencyProof:
    """The proof that ``old_note``'s tree is a prefix of ``new_note``'s."""
    old, new = parse_checkpoint(old_note).checkpoint, parse_checkpoint(new_note).checkpoint
    hashed = [leaf_hash(leaf) for leaf in leaves[: new.size]]
    if old.size > new.size or len(hashed) < new.size:
        raise AuditError(f"cannot prove size {old.size} against size {new.size}")
    if tree_root(hashed) != new.root or tree_root(hashed[: old.size]) != old.root:
        raise AuditError("a checkpoint does not match the log's records: verify the log")
    path = consistency_path(old.size, hashed)
    return ConsistencyProof(old_checkpoint=old_note, new_checkpoint=new_note, path=_encode(path))


def _trusted(note: SignedCheckpoint, keys: Sequence[VerifierKey], name: str) -> ProofCheck | None:
    status, who = signature_status(note, keys)
    if status == "verified":
        return None
    if not keys:
        return ProofCheck(status="inconclusive", message=f"no trusted public key to check {name}")
    if status == "unknown_key":  # not proven wrong: no key you hold signed it
        return ProofCheck(
            status="inconclusive", message=f"{name} is signed only by keys you do not hold: {who}"
        )
    return ProofCheck(status="invalid", message=f"{name} has an invalid signature ({who})")


def check_inclusion(proof: InclusionProof, keys: Sequence[VerifierKey]) -> ProofCheck:
    """Check the record, the audit path, and the checkpoint's signature."""
    keys = follow_rotations(proof.rotations, keys)
    note = parse_checkpoint(proof.checkpoint)
    checkpoint = note.checkpoint
    try:
        record = AuditRecord.from_body(proof.body, hash_body(proof.body))
    except AuditError as exc:
        return ProofCheck(status="invalid", message=str(exc))
    if record.seq != proof.seq:
        return ProofCheck(
            status="invalid", message=f"the body is record {record.seq}, not {proof.seq}"
        )
    included = verify_inclusion(
        proof.seq - 1, checkpoint.size, _leaf_of(proof.body), _decode(proof.path), checkpoint.root
    )
    if not included:
        return ProofCheck(status="invalid", message="the audit path does not lead to the root")
    problem = _trusted(note, keys, "the checkpoint")
    if problem is not None:
        return problem
    message = f"record {proof.seq} is in {checkpoint.origin} at size {checkpoint.size}"
    return ProofCheck(status="valid", message=message, record=record)


def check_proof(data: object, keys: Sequence[VerifierKey]) -> ProofCheck:
    """Check a proof read from JSON, of either kind (``format`` says which)."""
    if isinstance(data, dict) and data.get("format") == INCLUSION_FORMAT:
        return check_inclusion(InclusionProof.model_validate(data), keys)
    return check_consistency(ConsistencyProof.model_validate(data), keys)


def check_consistency(proof: ConsistencyProof, keys: Sequence[VerifierKey]) -> ProofCheck:
    """Check both signatures and that the old tree is a prefix of the new one."""
    keys = follow_rotations(proof.rotations, keys)
    old_note, new_note = (
        parse_checkpoint(proof.old_checkpoint),
        parse_checkpoint(proof.new_checkpoint),
    )
    old, new = old_note.checkpoint, new_note.checkpoint
    if old.origin != new.origin:
        return ProofCheck(status="invalid", message="the checkpoints belong to different logs")
    if not verify_consistency(old.size, new.size, old.root, new.root, _decode(proof.path)):
        return ProofCheck(status="invalid", message="the old log is not a prefix of the new one")
    for note, name in ((old_note, "the old checkpoint"), (new_note, "the new checkpoint")):
        problem = _trusted(note, keys, name)
        if problem is not None:
            return problem
    return ProofCheck(status="valid", message=f"size {old.size} is a prefix of size {new.size}")


def follow_rotations(
    rotations: Sequence[RotationStatement], keys: Sequence[VerifierKey]
) -> list[VerifierKey]:
    """``keys`` plus every key a trusted key endorsed in a proven ``key_rotated`` record."""
    trusted = list(keys)
    pending = list(rotations)
    while pending:
        endorsed = [(s, _endorsed_key(s, trusted)) for s in pending]
        added = [key for _, key in endorsed if key is not None]
        if not added:
            break
        trusted += [key for key in dict.fromkeys(added) if key not in trusted]
        pending = [s for s, key in endorsed if key is None]
    return trusted


def _endorsed_key(
    statement: RotationStatement, trusted: Sequence[VerifierKey]
) -> VerifierKey | None:
    """The new key of ``statement`` if it is proven under a ``trusted`` key's checkpoint
    and the key it replaces is trusted."""
    proof = InclusionProof(
        seq=statement.seq, body=statement.body, path=statement.path, checkpoint=statement.checkpoint
    )
    try:
        check = check_inclusion(proof, trusted)
    except AuditError:
        return None
    record = check.record
    if check.status != "valid" or record is None or record.event != "key_rotated":
        return None
    details = record.details
    try:
        old = VerifierKey.parse(str(details.get("old_key")))
        new = VerifierKey.parse(str(details.get("new_key")))
    except AuditError:
        return None
    return new if old in trusted else None


def rotation_statements(
    rotations: Sequence[tuple[int, str]], notes: Sequence[str], leaves: Sequence[bytes]
) -> tuple[RotationStatement, ...]:
    """Statements for the ``(seq, body)`` rotation records, each against the smallest
    checkpoint of ``notes`` that covers it and is signed by the key it replaces."""
    statements = []
    parsed = sorted((parse_checkpoint(note) for note in notes), key=lambda n: n.checkpoint.size)
    for seq, body in rotations:
        record = AuditRecord.from_body(body, hash_body(body))
        try:
            old = VerifierKey.parse(str(record.details.get("old_key")))
        except AuditError:
            continue
        for note in parsed:
            covers = note.checkpoint.size >= seq
            if covers and signature_status(note, [old])[0] == "verified":
                proof = build_inclusion(seq, body, leaves, note.text)
                statements.append(
                    RotationStatement(seq=seq, body=body, path=proof.path, checkpoint=note.text)
                )
                break
    return tuple(statements)


TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


def tlog_proof_text(proof: InclusionProof) -> str:
    """``proof`` in the C2SP tlog-proof format: the record body as the ``extra`` line,
    ``index`` = seq - 1, the audit path, a blank line, then the checkpoint verbatim."""
    extra = base64.b64encode(proof.body.encode("utf-8")).decode("ascii")
    lines = [TLOG_PROOF_HEADER, f"extra {extra}", f"index {proof.seq - 1}", *proof.path]
    return "\n".join(lines) + "\n\n" + proof.checkpoint


def parse_tlog_proof(text: str) -> InclusionProof:
    """Read a C2SP tlog-proof written by :func:`tlog_proof_text`; :class:`AuditError` if not."""
    head, separator, checkpoint = text.partition("\n\n")
    lines = head.split("\n")
    if not separator or lines[0] != TLOG_PROOF_HEADER:
        raise AuditError(f"not a tlog-proof: expected {TLOG_PROOF_HEADER!r} and a blank line")
    if len(lines) < 3 or not lines[1].startswith("extra ") or not lines[2].startswith("index "):
        raise AuditError("tlog-proof lacks the 'extra <record body>' or 'index' line")
    index = lines[2].removeprefix("index ")
    if re.fullmatch(r"0|[1-9][0-9]{0,18}", index) is None:
        raise AuditError(f"tlog-proof index {index!r} is not a decimal number")
    try:
        body = base64.b64decode(lines[1].removeprefix("extra "), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuditError(f"tlog-proof extra line is not a base64 record body: {exc}") from exc
    return InclusionProof(
        seq=int(index) + 1, body=body, path=tuple(lines[3:]), checkpoint=checkpoint
    )


def read_proof(text: str, keys: Sequence[VerifierKey]) -> ProofCheck:
    """Check a proof file's text: a tlog-proof, or one of our JSON proofs."""
    if text.startswith(TLOG_PROOF_HEADER + "\n"):
        return check_inclusion(parse_tlog_proof(text), keys)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AuditError(f"the proof is neither JSON nor a tlog-proof: {exc}") from exc
    return check_proof(data, keys)
