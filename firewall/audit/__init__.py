"""The audit trail: a signed, hash-chained, Merkle-tree log that honours erasure."""

from firewall.audit.checkpointer import PeriodicCheckpointer
from firewall.audit.events import AuditEvent, AuditSink
from firewall.audit.findings import ExitStatus, Finding, FindingKind, InDoubtCall, VerifyReport
from firewall.audit.keyfiles import WriterKeys, generate_key_pair, resolve_writer_keys
from firewall.audit.keys import SigningKey, VerifierKey
from firewall.audit.records import GENESIS_HASH, AuditRecord, SealedRecord, seal
from firewall.audit.settings import AuditSettings, CheckpointPolicy
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_bundle, verify_store

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditRecord",
    "AuditSettings",
    "AuditSink",
    "CheckpointPolicy",
    "ExitStatus",
    "Finding",
    "FindingKind",
    "InDoubtCall",
    "PeriodicCheckpointer",
    "SealedRecord",
    "SigningKey",
    "SqlAuditLog",
    "Trust",
    "VerifierKey",
    "VerifyReport",
    "WriterKeys",
    "generate_key_pair",
    "resolve_writer_keys",
    "seal",
    "verify_bundle",
    "verify_store",
]
