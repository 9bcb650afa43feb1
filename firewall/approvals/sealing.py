"""Personal data in stored holds: sealed per data subject, erasable like the audit log's.

A hold carries the call's arguments, the principal's ``on_behalf_of``, the policy's
reasons and the approver's decision reason: any of them may name the customer. The
approval store keeps them AES-256-GCM-encrypted under a key of the hold's data subject
(``on_behalf_of``, else ``call:<call id>``), in ``approval_subjects`` beside the holds,
bound to the hold and the field. The binding digest is sealed with them: it is an
unkeyed hash of the call, so a stored digest would confirm a guessed customer id.

Approvers see the values (the store opens them on every read). Once the subject is
erased (its key row deleted), the row reads as ``[erased]`` and cannot be approved into a
run: its digest matches no call. Keys are separate from the audit log's: no pseudonym is
shared, so nothing links a hold to the audit chain's pseudonym through the call id.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Connection, MetaData, Table, Text, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from firewall.errors import StoreError

SEALED_PREFIX = "sealed:v1:"
SEALED_KEY = "$sealed"
ERASED = "[erased]"
ERASED_DIGEST = "sha256:" + "0" * 64
STORED_DIGEST = "sealed"
NONCE_BYTES = 12

subjects_metadata = MetaData()
approval_subjects = Table(
    "approval_subjects",
    subjects_metadata,
    Column("subject", Text, primary_key=True),
    Column("pseudonym", Text, nullable=False, unique=True),
    Column("key", Text, nullable=False),
    Column("created", Text, nullable=False),
)


def subject_of(row: Mapping[str, Any]) -> str:
    """The data subject of a hold row: ``on_behalf_of``, else the call (``call:<id>``)."""
    subject = (row.get("principal") or {}).get("on_behalf_of")
    return str(subject) if subject else f"call:{row['call_id']}"


def seal_created(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    """A new hold's row with its personal fields sealed under its subject's key."""
    pseudonym, key = _key_for(conn, subject_of(row))
    principal = dict(row["principal"])
    fixed = {
        "args": row["args"],
        "digest": row["digest"],
        "reasons": row["reasons"],
        "on_behalf_of": principal.get("on_behalf_of"),
    }
    if principal.get("on_behalf_of") is not None:
        principal["on_behalf_of"] = SEALED_KEY
    sealed = {
        "args": {SEALED_KEY: _seal(pseudonym, key, row["hold_id"], "fixed", fixed)},
        "principal": principal,
        "reasons": [],
        "digest": STORED_DIGEST,
    }
    return row | sealed | {"decision_reason": _seal_reason(conn, row, pseudonym, key)}


def seal_decision(conn: Connection, row: dict[str, Any], stored_args: Any) -> dict[str, Any]:
    """Decision fields of an update, the reason sealed under the key the hold uses."""
    if row.get("decision_reason") is None:
        return row
    pseudonym = _pseudonym_of(stored_args)
    key: bytes | None
    if pseudonym is None:  # a hold stored before sealing: its subject's key
        pseudonym, key = _key_for(conn, subject_of(row))
    else:
        key = _keys_by_pseudonym(conn, [pseudonym]).get(pseudonym)
    if key is None:  # the subject was erased meanwhile: keep nothing of the reason
        return row | {"decision_reason": ERASED}
    return row | {"decision_reason": _seal_reason(conn, row, pseudonym, key)}


def open_rows(conn: Connection, rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Stored rows (mappings) with their sealed fields opened, ``[erased]`` if the key is gone."""
    stored = [dict(row) for row in rows]
    wanted = {p for row in stored if (p := _pseudonym_of(row.get("args"))) is not None}
    keys = _keys_by_pseudonym(conn, wanted)
    return [_open_row(row, keys) for row in stored]


def erase_subject(conn: Connection, holds: Table, subject: str) -> tuple[str | None, int]:
    """Delete ``subject``'s key; rewrite holds stored before sealing. ``(pseudonym, holds)``.

    ``holds`` counts the holds of the subject made unreadable, found by their pseudonym
    (sealed) or their ``on_behalf_of`` (stored before sealing).
    """
    pseudonym = conn.execute(
        select(approval_subjects.c.pseudonym).where(approval_subjects.c.subject == subject)
    ).scalar()
    conn.execute(delete(approval_subjects).where(approval_subjects.c.subject == subject))
    count = 0
    for row in conn.execute(select(holds)).mappings():
        stored = _pseudonym_of(row["args"])
        if stored is not None and stored == pseudonym:
            count += 1
        elif stored is None and (row["principal"] or {}).get("on_behalf_of") == subject:
            conn.execute(
                holds.update()
                .where(holds.c.hold_id == row["hold_id"])
                .values(_erased_fields(dict(row)))
            )
            count += 1
    return (str(pseudonym) if pseudonym is not None else None), count


def _open_row(row: dict[str, Any], keys: Mapping[str, bytes]) -> dict[str, Any]:
    pseudonym = _pseudonym_of(row.get("args"))
    if pseudonym is None:
        return row  # stored before sealing
    key = keys.get(pseudonym)
    if key is None:
        return row | _erased_fields(row)
    fixed = _open(key, row["hold_id"], "fixed", row["args"][SEALED_KEY])
    principal = dict(row["principal"])
    if principal.get("on_behalf_of") == SEALED_KEY:
        principal["on_behalf_of"] = fixed["on_behalf_of"]
    reason = row.get("decision_reason")
    if isinstance(reason, str) and reason.startswith(SEALED_PREFIX):
        reason = _open(key, row["hold_id"], "decision_reason", reason)
    return row | {
        "args": fixed["args"],
        "digest": fixed["digest"],
        "reasons": fixed["reasons"],
        "principal": principal,
        "decision_reason": reason,
    }


def _erased_fields(row: dict[str, Any]) -> dict[str, Any]:
    principal = dict(row.get("principal") or {})
    if principal.get("on_behalf_of") is not None:
        principal["on_behalf_of"] = ERASED
    reason = ERASED if row.get("decision_reason") is not None else None
    return {
        "args": {ERASED: ERASED},
        "principal": principal,
        "reasons": [ERASED],
        "digest": ERASED_DIGEST,
        "decision_reason": reason,
    }


def _seal_reason(conn: Connection, row: Mapping[str, Any], pseudonym: str, key: bytes) -> Any:
    reason = row.get("decision_reason")
    if reason is None:
        return None
    return _seal(pseudonym, key, row["hold_id"], "decision_reason", reason)


def _seal(pseudonym: str, key: bytes, hold_id: str, field: str, value: Any) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    plain = json.dumps(value, ensure_ascii=False).encode("utf-8")  # order kept, as shown
    ciphertext = AESGCM(key).encrypt(nonce, plain, _bound_to(hold_id, field))
    return f"{SEALED_PREFIX}{pseudonym}:{base64.b64encode(nonce + ciphertext).decode('ascii')}"


def _open(key: bytes, hold_id: str, field: str, sealed: str) -> Any:
    blob = base64.b64decode(sealed.rsplit(":", 1)[1])
    try:
        plain = AESGCM(key).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], _bound_to(hold_id, field)
        )
    except InvalidTag as exc:
        raise StoreError(f"stored hold {hold_id!r} is malformed at: {field} (sealed)") from exc
    return json.loads(plain)


def _bound_to(hold_id: str, field: str) -> bytes:
    """Associated data: a sealed value opens only in the hold and field it was sealed for."""
    return f"agent-firewall/approvals/v1\n{hold_id}\n{field}".encode()


def _pseudonym_of(args: Any) -> str | None:
    sealed = args.get(SEALED_KEY) if isinstance(args, Mapping) else None
    if not isinstance(sealed, str) or not sealed.startswith(SEALED_PREFIX):
        return None
    return sealed.removeprefix(SEALED_PREFIX).split(":", 1)[0]


def _key_for(conn: Connection, subject: str) -> tuple[str, bytes]:
    """The subject's pseudonym and key, created on first use."""
    found = _read_key(conn, subject)
    if found is None:
        row = {
            "subject": subject,
            "pseudonym": "h_" + secrets.token_hex(16),
            "key": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
            "created": datetime.now(UTC).isoformat(),
        }
        conn.execute(_insert_ignoring_conflicts(conn).values(row))
        found = _read_key(conn, subject)
    if found is None:
        raise StoreError("approval store could not keep a data subject's key")
    return found


def _read_key(conn: Connection, subject: str) -> tuple[str, bytes] | None:
    row = conn.execute(
        select(approval_subjects.c.pseudonym, approval_subjects.c.key).where(
            approval_subjects.c.subject == subject
        )
    ).first()
    return None if row is None else (str(row.pseudonym), base64.b64decode(row.key))


def _keys_by_pseudonym(conn: Connection, pseudonyms: Iterable[str]) -> dict[str, bytes]:
    wanted = sorted(set(pseudonyms))
    if not wanted:
        return {}
    rows = conn.execute(
        select(approval_subjects.c.pseudonym, approval_subjects.c.key).where(
            approval_subjects.c.pseudonym.in_(wanted)
        )
    )
    return {str(row.pseudonym): base64.b64decode(row.key) for row in rows}


def _insert_ignoring_conflicts(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return pg_insert(approval_subjects).on_conflict_do_nothing()
    return sqlite_insert(approval_subjects).on_conflict_do_nothing()
