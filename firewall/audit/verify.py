"""Verify a log (in its database, or an exported bundle) against what an auditor trusts.

The verifier streams the records once (:mod:`firewall.audit.chain`), checks every signed
checkpoint against them (:mod:`firewall.audit.trust`), then the head row and freshness.
It writes nothing. Without a trusted public key the verdict is at best inconclusive: a
chain that only hashes correctly proves little, anyone can recompute it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firewall.audit.bundle import BundleSource
from firewall.audit.cadence import CadenceCheck
from firewall.audit.chain import ChainChecker, Findings
from firewall.audit.checkpoints import parse_checkpoint, signature_status, signed_time
from firewall.audit.cosignatures import CosignerKey, read_witness_keys
from firewall.audit.findings import FindingKind, Status, VerifyReport
from firewall.audit.keyfiles import default_public_keys, read_public_keys
from firewall.audit.keys import VerifierKey
from firewall.audit.settings import CheckpointPolicy
from firewall.audit.sources import LogSource, SnapshotSource
from firewall.audit.store import SqlAuditLog
from firewall.audit.trust import Claim, Coverage, check_claims
from firewall.audit.witnessing import check_witnesses
from firewall.errors import AuditError, MissingDependencyError

DEFAULT_CADENCE = CheckpointPolicy()
NO_KEY = "no trusted public key given (--public-key): signatures were not checked"
HEAD_NOTE_SOURCE = "signed head"
RowObserver = Callable[[int | None, str | None, str], None]


@dataclass(frozen=True)
class Trust:
    """What the auditor brings: public keys, checkpoints kept earlier, a freshness bound,
    and the writers' checkpoint policy (``cadence``), which says when a kept checkpoint
    must exist."""

    keys: tuple[VerifierKey, ...] = ()
    checkpoints: tuple[tuple[str, str], ...] = ()
    max_age_s: float | None = None
    now: datetime | None = None
    witnesses: tuple[CosignerKey, ...] = ()
    witness_quorum: int = 0
    cadence: CheckpointPolicy = DEFAULT_CADENCE

    @classmethod
    def from_files(
        cls,
        public_keys: Sequence[Path] = (),
        checkpoints: Sequence[Path] = (),
        max_age_s: float | None = None,
        *,
        witness_keys: Sequence[Path] = (),
        witness_quorum: int | None = None,
        cadence: CheckpointPolicy | None = None,
    ) -> Trust:
        """Read key and checkpoint files; :class:`AuditError` names an unreadable one.

        ``witness_quorum`` defaults to 1 when witness keys are given.
        """
        keys = tuple(key for path in public_keys for key in read_public_keys(path))
        witnesses = tuple(key for path in witness_keys for key in read_witness_keys(path))
        quorum = (1 if witnesses else 0) if witness_quorum is None else witness_quorum
        if not 0 <= quorum <= len(witnesses):
            raise AuditError(
                f"--witness-quorum {quorum} needs at least that many --witness-key keys "
                f"(got {len(witnesses)})"
            )
        notes = []
        for path in checkpoints:
            try:
                notes.append((f"trusted checkpoint {path.name}", path.read_text("utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise AuditError(f"cannot read checkpoint file {path}: {exc}") from exc
        return cls(
            keys=keys,
            checkpoints=tuple(notes),
            max_age_s=max_age_s,
            witnesses=witnesses,
            witness_quorum=quorum,
            cadence=cadence or DEFAULT_CADENCE,
        )


def verify_store(
    url: str, trust: Trust | None = None, approvals_url: str | None = None
) -> VerifyReport:
    """Verify the log at ``url``, and that it shows every decision of the approval store
    at ``approvals_url`` (default ``url``; none there: not checked).

    Default trust: a dev key's ``.pub`` next to a SQLite file.
    """
    from firewall.approvals.decision_check import verify_decisions  # noqa: PLC0415 - cycle

    return verify_decisions(_verify_log(url, trust), url, approvals_url or url)


def _verify_log(url: str, trust: Trust | None) -> VerifyReport:
    try:
        trust = trust or Trust.from_files(default_public_keys(url))
        log = SqlAuditLog(url, create=False)
    except (AuditError, MissingDependencyError) as exc:
        return VerifyReport(status="inconclusive", error=str(exc))
    try:
        with log.snapshot() as view:
            return verify_source(SnapshotSource(view), trust, has_head_row=True)
    except AuditError as exc:
        return VerifyReport(status="inconclusive", error=str(exc))
    finally:
        log.close()


def verify_bundle(directory: Path, trust: Trust) -> VerifyReport:
    """Verify an exported bundle offline."""
    try:
        return verify_source(BundleSource(directory), trust, has_head_row=False)
    except AuditError as exc:
        return VerifyReport(status="inconclusive", error=str(exc))


def verify_source(
    source: LogSource, trust: Trust, *, has_head_row: bool, on_row: RowObserver | None = None
) -> VerifyReport:
    """Verify everything ``source`` holds against ``trust``.

    ``on_row`` sees every row the chain checker reads, as read (``firewall audit show``
    keeps the ones to display, and shows those the report says verified).
    """
    run = _Run(findings=Findings())
    claims = run.claims(source.notes(), trust)
    chain = ChainChecker(run.findings, {claim.size for claim in claims})
    stored = _stored(claims, source.origin, trust.keys)
    cadence = CadenceCheck(trust.cadence, stored, run.findings)
    chain.on_record = cadence.record
    try:
        for row_seq, stored_hash, body, columns in source.checked_rows():
            chain.check(row_seq, stored_hash, body, columns)
            if on_row is not None:
                on_row(row_seq, stored_hash, body)
    except AuditError as exc:
        run.error = str(exc)
    coverage = check_claims(claims, chain, trust.keys, source.origin, run.findings)
    witnessed = None
    if trust.witnesses:
        witnesses = (trust.witnesses, trust.witness_quorum)
        witnessed = check_witnesses(
            claims, chain, coverage, witnesses, origin=source.origin, findings=run.findings
        )
    if run.error is None:
        cadence.check_genesis()
        cadence.finish()
        if has_head_row:
            _check_head_row(source.head_row(), chain, run.findings)
        source.check_tables(chain, run.findings)
        _check_freshness(coverage, chain, trust, run.findings)
    if not trust.keys and run.error is None:
        run.error = NO_KEY
    return run.report(chain, coverage, source.origin).model_copy(
        update={"witnessed_through": witnessed}
    )


def _stored(
    claims: Sequence[Claim], origin: str | None, keys: Sequence[VerifierKey]
) -> list[tuple[int, str]]:
    """``(size, time)`` of every checkpoint the log keeps (not the head, not the auditor's).

    The time is the one a trusted key signed (its cosignature/v1 line); without keys, the
    one the note claims, as nothing here is checked then anyway.
    """
    return [
        (claim.size, signed_time(claim.note, keys) or claim.note.claimed_time or "")
        for claim in claims
        if not claim.from_auditor
        and claim.source != HEAD_NOTE_SOURCE
        and (origin is None or claim.note.checkpoint.origin == origin)
    ]


@dataclass
class _Run:
    findings: Findings
    error: str | None = None

    def claims(self, notes: list[tuple[str, str]], trust: Trust) -> list[Claim]:
        claims = []
        for source, text in notes:
            try:
                claims.append(Claim(source, parse_checkpoint(text)))
            except AuditError as exc:
                self.findings.add(
                    FindingKind.MALFORMED,
                    1,
                    "a signed checkpoint",
                    source,
                    f"{source} is unreadable: {exc}",
                )
        for source, text in trust.checkpoints:
            try:
                note = parse_checkpoint(text)
            except AuditError as exc:
                self.error = f"{source} is unreadable: {exc}"
                continue
            if signature_status(note, trust.keys)[0] != "verified":
                self.error = f"{source} is not validly signed by any of the given public keys"
                continue
            claims.append(Claim(source, note, from_auditor=True))
        return claims

    def report(self, chain: ChainChecker, coverage: Coverage, origin: str | None) -> VerifyReport:
        status: Status = "valid"
        if self.findings.has("tampered"):
            status = "tampered"
        elif self.findings.has("inconclusive") or self.error is not None:
            status = "inconclusive"
        first = self.findings.first_problem
        tainted = self.findings.first_record_problem
        verified_through = (
            coverage.signed_through
            if tainted is None
            else min(coverage.signed_through, tainted - 1)
        )
        return VerifyReport(
            status=status,
            first_bad_seq=first.seq if first else None,
            first_finding=first,
            findings=tuple(self.findings.kept),
            findings_total=self.findings.total,
            records_checked=chain.count,
            first_seq=chain.first_seq,
            last_seq=chain.last_seq if chain.count else None,
            head=(chain.last_seq, chain.last_hash) if chain.count else None,
            root=base64.b64encode(chain.frontier.root()).decode("ascii"),
            origin=origin,
            signed_through=coverage.signed_through,
            verified_through=max(0, verified_through),
            checkpoints_checked=coverage.checked,
            trusted_keys=tuple(sorted(coverage.trusted)),
            erased_subjects=len(chain.erased),
            in_doubt=chain.in_doubt(),
            error=self.error,
        )


def _check_head_row(head: tuple[int, str] | None, chain: ChainChecker, findings: Findings) -> None:
    last = (chain.last_seq, chain.last_hash) if chain.count else None
    if head == last:
        return
    shown_head = f"seq {head[0]} {head[1]}" if head else "an empty log"
    shown_last = f"seq {last[0]} {last[1]}" if last else "no records"
    if head is None or (last is not None and head[0] < last[0]):
        seq = head[0] + 1 if head else 1
        findings.add(
            FindingKind.HEAD_MISMATCH,
            seq,
            shown_head,
            shown_last,
            f"records exist beyond the head row ({shown_head})",
        )
    elif last is None or head[0] > last[0]:
        findings.add(
            FindingKind.TRUNCATION,
            (last[0] if last else 0) + 1,
            shown_head,
            shown_last,
            f"the head row records {shown_head} but the log ends at {shown_last}",
        )
    else:
        findings.add(
            FindingKind.HEAD_MISMATCH,
            head[0],
            shown_head,
            shown_last,
            "the head row's hash is not the last record's",
        )


def _check_freshness(
    coverage: Coverage, chain: ChainChecker, trust: Trust, findings: Findings
) -> None:
    newest = coverage.newest_log_time
    auditor = coverage.newest_auditor_time
    if newest is not None and auditor is not None and auditor > newest:
        findings.add(
            FindingKind.STALE_HEAD,
            chain.count + 1,
            f"signed at or after {auditor}",
            newest,
            "the log's newest signed head is older than a checkpoint you "
            "kept: the database was rolled back",
        )
    if trust.max_age_s is None or not trust.keys:
        return
    now = trust.now or datetime.now(UTC)
    limit = now - timedelta(seconds=trust.max_age_s)
    if newest is None or datetime.fromisoformat(newest) < limit:
        findings.add(
            FindingKind.STALE_HEAD,
            chain.count + 1,
            f"a signed head newer than {limit.isoformat()}",
            newest or "none",
            f"no checkpoint signed in the last {trust.max_age_s:g}s: the log may "
            "have been frozen or rolled back, or its writers are down",
        )
