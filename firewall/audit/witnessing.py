"""A quorum of witnesses: how far the log is cosigned by witnesses the auditor trusts.

A witness (c2sp.org/tlog-witness) checks that each checkpoint it sees is consistent with
every one it saw before, then adds its cosignature/v1 line. A log operator who shows one
history to the witnesses and another to an auditor is caught by the witnesses, so an
auditor who requires ``quorum`` of the witnesses they name trusts records only as far as
a checkpoint with that many valid cosignatures reaches. Records after it are reported as
``unwitnessed_tail`` (inconclusive, not tampered); a forged cosignature by a named
witness is a ``bad_signature``. The log's own keys never count as witnesses (their
``cosignature/v1`` line only says when the log signed).
"""

from __future__ import annotations

from collections.abc import Sequence

from firewall.audit.chain import ChainChecker, Findings
from firewall.audit.cosignatures import CosignerKey, witness_status
from firewall.audit.findings import FindingKind
from firewall.audit.trust import Claim, Coverage, is_consistent


def check_witnesses(
    claims: Sequence[Claim],
    chain: ChainChecker,
    coverage: Coverage,
    witnesses: tuple[tuple[CosignerKey, ...], int],
    *,
    origin: str | None,
    findings: Findings,
) -> int:
    """The largest size cosigned by ``quorum`` of ``keys``; findings for what is not."""
    keys, quorum = witnesses
    log_keys = {key.public for key in coverage.trusted.values()}
    keys = tuple(key for key in keys if key.public not in log_keys)  # the log is no witness
    witnessed = 0
    for claim in claims:
        if not is_consistent(claim, chain, coverage.trusted, origin):
            continue
        good, bad = witness_status(claim.note, keys)
        for key_id in sorted(bad):
            findings.add(
                FindingKind.BAD_SIGNATURE,
                max(1, claim.size),
                f"a valid cosignature by {key_id}",
                "invalid",
                f"{claim.source} (size {claim.size}) carries a forged cosignature of {key_id}",
            )
        if len(good) >= quorum:
            witnessed = max(witnessed, claim.size)
    if quorum > 0 and chain.count > witnessed:
        findings.add(
            FindingKind.UNWITNESSED_TAIL,
            witnessed + 1,
            f"a checkpoint cosigned by {quorum} of {len(keys)} witness(es)",
            f"witnessed through seq {witnessed}",
            f"records {witnessed + 1}..{chain.last_seq} are not cosigned by {quorum} of the "
            "witnesses you trust: the log may show others a different history",
        )
    return witnessed
