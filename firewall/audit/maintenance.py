"""Writes other than appending events: erasure, checkpoints on demand, key rotation.

Each runs inside a transaction that already holds the head lock (see
``SqlAuditLog._maintenance``), so it orders with every append.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from firewall.audit.appender import prepare
from firewall.audit.heads import HeadState
from firewall.audit.keyfiles import WriterKeys, write_private_key_file
from firewall.audit.keys import SigningKey
from firewall.audit.rawsql import RawSql
from firewall.audit.records import AuditRecord, format_time
from firewall.audit.vault_store import erase_subject as delete_subject
from firewall.audit.writer import ChainWriter
from firewall.types import Frozen


class Erasure(Frozen):
    """The result of erasing one data subject."""

    pseudonym: str
    values_deleted: int
    record: AuditRecord


def erase_subject(
    conn: Connection, head: HeadState, writer: ChainWriter, subject: str
) -> tuple[Erasure | None, str | None]:
    """Delete the subject's key and values and append ``subject_erased``."""
    deleted = delete_subject(conn, subject)
    if deleted is None:
        return None, None
    pseudonym, count = deleted
    data = {
        "event": "subject_erased",
        "details": {"subject": pseudonym, "values_deleted": count},
    }
    [sealed], note = writer.append(RawSql(conn), head, prepare(conn, [data]))
    erasure = Erasure(pseudonym=pseudonym, values_deleted=count, record=sealed.record())
    return erasure, note


def write_checkpoint(
    conn: Connection, head: HeadState, writer: ChainWriter, min_age_s: float | None
) -> str | None:
    """Store a fresh checkpoint of the head, unless the head was signed less than
    ``min_age_s`` ago (then the log is busy, and appends keep its checkpoints coming).

    The age is the signed head's, never the head row's unauthenticated columns."""
    if min_age_s is not None:
        now = datetime.fromisoformat(format_time(writer.now()))
        age = now - datetime.fromisoformat(head.signed_time)
        if age.total_seconds() < min_age_s:
            return None
    return writer.checkpoint(RawSql(conn), head, force=True)


def rotate(
    conn: Connection, head: HeadState, writer: ChainWriter, new_key: SigningKey
) -> tuple[AuditRecord, str | None]:
    """Append ``key_rotated`` (old key endorses new) under a head signed by both."""
    old = writer.keys.signing.verifier
    data = {
        "event": "key_rotated",
        "details": {"old_key": old.text(), "new_key": new_key.verifier.text()},
    }
    [sealed], note = writer.append(
        RawSql(conn), head, prepare(conn, [data]), co_signers=[new_key], force_checkpoint=True
    )
    return sealed.record(), note


def stage_key_file(keys: WriterKeys, new_key: SigningKey) -> Path | None:
    """Write the rotated key file next to the current one, not yet in place."""
    if keys.path is None:
        return None
    staged = keys.path.with_name(keys.path.name + ".next")
    if staged.exists():
        staged.unlink()
    write_private_key_file(staged, new_key, keys.accepted)
    return staged


def discard_staged(staged: Path | None) -> None:
    """Remove a staged key file after a failed rotation."""
    if staged is not None and staged.exists():
        staged.unlink()


def install_key(keys: WriterKeys, new_key: SigningKey, staged: Path | None) -> None:
    """Put the new key in place (file and memory) after the rotation committed."""
    if staged is not None and keys.path is not None:
        os.replace(staged, keys.path)
        keys.refresh()
        return
    keys.signing, keys.previous = new_key, keys.accepted
