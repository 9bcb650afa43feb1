"""Checking signed checkpoints against the records and the keys an auditor trusts.

Each checkpoint (stored ones, the signed head, and any the auditor kept) is checked for
its signature, its log, and its Merkle root and chain hash against the records at its
size. The records up to the largest consistent, validly signed checkpoint are
*authenticated*; records after it are an unsigned tail. Trust grows along ``key_rotated``
records: a rotation authenticated by a checkpoint signed with a trusted key makes the
new key trusted too, so an auditor needs to keep only the first public key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field

from firewall.audit.chain import ChainChecker, Findings
from firewall.audit.checkpoints import SignedCheckpoint, signature_status, signed_time
from firewall.audit.findings import FindingKind
from firewall.audit.keys import VerifierKey
from firewall.errors import AuditError


@dataclass(frozen=True)
class Claim:
    """One signed checkpoint to check; ``source`` says where it came from."""

    source: str
    note: SignedCheckpoint
    from_auditor: bool = False

    @property
    def size(self) -> int:
        """The tree size it vouches for."""
        return self.note.checkpoint.size


@dataclass
class Coverage:
    """What the checkpoints established."""

    signed_through: int = 0
    checked: int = 0
    newest_log_time: str | None = None
    newest_auditor_time: str | None = None
    trusted: dict[str, VerifierKey] = field(default_factory=dict)


def check_claims(
    claims: Sequence[Claim],
    chain: ChainChecker,
    keys: Sequence[VerifierKey],
    origin: str | None,
    findings: Findings,
) -> Coverage:
    """Check every claim; report problems to ``findings``; return the coverage."""
    trusted = _trusted_keys(claims, chain, keys, origin)
    coverage = Coverage(trusted=trusted)
    ordered = sorted(claims, key=lambda c: (c.size, c.note.claimed_time or ""))
    unknown: list[Claim] = []
    vouched = 0  # the largest size a trusted signature speaks about, consistent or not
    for claim in ordered:
        verdict = _verdict(claim, chain, trusted, origin)
        if verdict == "unknown_key":
            unknown.append(claim)
            continue
        if verdict in {"consistent", "inconsistent", "beyond", "bad_signature"}:
            vouched = max(vouched, claim.size)
        if verdict == "consistent":
            _count(coverage, claim, signed_time(claim.note, trusted.values()))
        else:
            _report(verdict, claim, chain, coverage.signed_through, findings)
    if trusted and chain.count > vouched:
        _report_tail(chain, vouched, unknown, findings)
    if trusted:
        _report_strangers(unknown, chain, coverage.signed_through, findings)
    return coverage


def _trusted_keys(
    claims: Sequence[Claim], chain: ChainChecker, keys: Sequence[VerifierKey], origin: str | None
) -> dict[str, VerifierKey]:
    """``keys``, plus every key a trusted key endorsed in an authenticated rotation."""
    trusted = {key.key_id: key for key in keys}
    for _ in range(len(chain.rotations) + 1):
        covered = max(
            (c.size for c in claims if _verdict(c, chain, trusted, origin) == "consistent"),
            default=0,
        )
        if not _endorse(chain, covered, trusted):
            break
    return trusted


def _verdict(
    claim: Claim, chain: ChainChecker, trusted: dict[str, VerifierKey], origin: str | None
) -> str:
    checkpoint = claim.note.checkpoint
    if origin is not None and checkpoint.origin != origin:
        return "foreign"
    status, _ = signature_status(claim.note, trusted.values())
    if status != "verified":
        return status
    if checkpoint.size > chain.count:
        return "beyond"
    root, last_hash = chain.observed.get(checkpoint.size, (None, None))
    if root != checkpoint.root or checkpoint.chain not in (None, last_hash):
        return "inconsistent"
    return "consistent"


def is_consistent(
    claim: Claim, chain: ChainChecker, trusted: dict[str, VerifierKey], origin: str | None
) -> bool:
    """Whether ``claim`` is validly signed by a ``trusted`` key and matches the records."""
    return _verdict(claim, chain, trusted, origin) == "consistent"


def _endorse(chain: ChainChecker, covered: int, trusted: dict[str, VerifierKey]) -> bool:
    grew = False
    for rotation in chain.rotations:
        if rotation.seq > covered:
            continue
        try:
            old, new = VerifierKey.parse(rotation.old), VerifierKey.parse(rotation.new)
        except AuditError:
            continue
        if trusted.get(old.key_id) == old and new.key_id not in trusted:
            trusted[new.key_id] = new
            grew = True
    return grew


def _count(coverage: Coverage, claim: Claim, time: str | None) -> None:
    coverage.checked += 1
    coverage.signed_through = max(coverage.signed_through, claim.size)
    if time is None:
        return
    if claim.from_auditor:
        coverage.newest_auditor_time = max(time, coverage.newest_auditor_time or time)
    else:
        coverage.newest_log_time = max(time, coverage.newest_log_time or time)


def _report(
    verdict: str, claim: Claim, chain: ChainChecker, signed_through: int, findings: Findings
) -> None:
    checkpoint, count = claim.note.checkpoint, chain.count
    seq = max(1, min(checkpoint.size, count + 1))
    if verdict == "foreign":
        findings.add(
            FindingKind.CHECKPOINT_INCONSISTENCY,
            seq,
            None,
            checkpoint.origin,
            f"{claim.source} is a checkpoint of another log ({checkpoint.origin})",
        )
    elif verdict == "bad_signature":
        findings.add(
            FindingKind.BAD_SIGNATURE,
            seq,
            "a valid Ed25519 signature",
            "invalid",
            f"{claim.source} (size {checkpoint.size}) has an invalid signature",
        )
    elif verdict == "beyond":
        findings.add(
            FindingKind.TRUNCATION,
            count + 1,
            f"at least {checkpoint.size} records",
            f"{count} records",
            f"{claim.source} vouches for {checkpoint.size} records; the log has {count}",
        )
    else:
        _report_inconsistency(claim, chain, signed_through, findings)


def _report_inconsistency(
    claim: Claim, chain: ChainChecker, signed_through: int, findings: Findings
) -> None:
    checkpoint = claim.note.checkpoint
    root, last_hash = chain.observed.get(checkpoint.size, (b"", ""))
    # The root says only that some record in the range changed; a record-level
    # finding in the range says which one most likely did.
    first = signed_through + 1
    located = findings.first_problem_between(first, checkpoint.size)
    findings.add(
        FindingKind.CHECKPOINT_INCONSISTENCY,
        first if located is None else located,
        f"root {_b64(checkpoint.root)}"
        + (f", last record {checkpoint.chain}" if checkpoint.chain else ""),
        f"root {_b64(root)}, last record {last_hash}",
        f"the records up to seq {checkpoint.size} are not the ones {claim.source} "
        f"vouches for: some record in {signed_through + 1}..{checkpoint.size} changed",
        through=checkpoint.size if located is None else None,
    )


def _report_strangers(
    unknown: Sequence[Claim], chain: ChainChecker, signed_through: int, findings: Findings
) -> None:
    """The log's own checkpoints signed by no key you trust, that no rotation explains.

    A checkpoint signed before a ``key_rotated`` record by that rotation's old key is
    explained (you trust only the newer key); any other was re-signed, or planted.
    """
    for claim in unknown:
        if claim.from_auditor or _signed_before_rotation(claim, chain, signed_through):
            continue
        names = ", ".join(f"{s.name}+{s.key_hash:08x}" for s in claim.note.signatures)
        size = claim.size
        findings.add(
            FindingKind.UNKNOWN_KEY,
            max(1, min(size, chain.count + 1)),
            "a trusted key",
            names,
            f"{claim.source} (size {size}) is signed only by keys you do not trust: "
            "re-signed or planted",
        )


def _signed_before_rotation(claim: Claim, chain: ChainChecker, signed_through: int) -> bool:
    signers = {(s.name, s.key_hash) for s in claim.note.signatures}
    for rotation in chain.rotations:
        if rotation.seq > signed_through or claim.size >= rotation.seq:
            continue
        try:
            old = VerifierKey.parse(rotation.old)
        except AuditError:
            continue
        if (old.name, old.key_hash) in signers:
            return True
    return False


def _report_tail(
    chain: ChainChecker, signed_through: int, unknown: list[Claim], findings: Findings
) -> None:
    first, last = signed_through + 1, chain.last_seq
    strangers = sorted(
        {s.name for c in unknown if c.size > signed_through for s in c.note.signatures}
    )
    if strangers:
        findings.add(
            FindingKind.UNKNOWN_KEY,
            first,
            "a trusted key",
            ", ".join(strangers),
            f"records {first}..{last} are signed only by keys you do not trust: "
            "the log was re-signed, or you hold the wrong public key",
        )
        return
    findings.add(
        FindingKind.UNSIGNED_TAIL,
        first,
        "a signed checkpoint",
        "none",
        f"records {first}..{last} are not covered by any valid signature",
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
