"""The hash-chained audit trail: records, the SQL store and the verifier."""

from firewall.audit.events import AuditEvent, AuditSink
from firewall.audit.findings import ExitStatus, Finding, FindingKind, InDoubtCall, VerifyReport
from firewall.audit.records import GENESIS_HASH, AuditRecord, compute_hash, seal
from firewall.audit.store import AuditSnapshot, SqlAuditLog
from firewall.audit.verify import ChainVerifier, verify_chain, verify_store

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditRecord",
    "AuditSink",
    "AuditSnapshot",
    "ChainVerifier",
    "ExitStatus",
    "Finding",
    "FindingKind",
    "InDoubtCall",
    "SqlAuditLog",
    "VerifyReport",
    "compute_hash",
    "seal",
    "verify_chain",
    "verify_store",
]
