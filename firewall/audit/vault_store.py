"""Subject keys and encrypted personal values in SQL, and their erasure."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from firewall.audit.records import format_time
from firewall.audit.schema import personal_table, subjects_table
from firewall.audit.vault import SealedValue, SubjectKey, open_value, parse_reference
from firewall.errors import AuditError

# Values of a subject erased meanwhile are dropped; a value already stored is kept.
STORE_VALUE = (
    "INSERT INTO audit_personal (pseudonym, commitment, nonce, ciphertext) "
    "SELECT CAST(%(pseudonym)s AS TEXT), CAST(%(commitment)s AS TEXT), "
    "CAST(%(nonce)s AS TEXT), CAST(%(ciphertext)s AS TEXT) "
    "WHERE EXISTS (SELECT 1 FROM audit_subjects WHERE pseudonym = %(pseudonym)s) "
    "ON CONFLICT DO NOTHING"
)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def subject_keys(conn: Connection, subjects: Iterable[str]) -> dict[str, SubjectKey]:
    """The keys of ``subjects``, creating a key for any subject seen for the first time."""
    wanted = set(subjects)
    if not wanted:
        return {}
    found = _read_keys(conn, wanted)
    missing = wanted - found.keys()
    if missing:
        created = format_time(datetime.now(UTC))
        rows = [_key_row(SubjectKey.generate(subject), created) for subject in sorted(missing)]
        statement = _insert_ignoring_conflicts(conn).values(rows)
        conn.execute(statement)
        found |= _read_keys(conn, missing)
    return found


class SubjectKeyCache:
    """Subject keys recently read, for ``ttl_s`` seconds (0: always read the table).

    Saves a round trip per append. An erasure in another process reaches this one
    within ``ttl_s``: meanwhile its records still commit to the erased key, but their
    values are dropped (:func:`store_values` skips erased subjects).
    """

    def __init__(self, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._keys: dict[str, tuple[float, SubjectKey]] = {}

    def keys(self, conn: Connection, subjects: Iterable[str]) -> dict[str, SubjectKey]:
        """The keys of ``subjects`` (created if new), from the cache when fresh."""
        now = self._clock()
        wanted = set(subjects)
        found = {s: e[1] for s in wanted if (e := self._keys.get(s)) and now - e[0] < self._ttl_s}
        missing = wanted - found.keys()
        if missing:
            fetched = subject_keys(conn, missing)
            if self._ttl_s > 0:
                self._keys |= {subject: (now, key) for subject, key in fetched.items()}
            found |= fetched
        return found

    def forget(self, subject: str) -> None:
        """Drop ``subject`` (after erasing it here)."""
        self._keys.pop(subject, None)


def value_rows(values: Iterable[SealedValue]) -> list[dict[str, str]]:
    """Parameters of :data:`STORE_VALUE` for ``values``."""
    return [
        {
            "pseudonym": value.pseudonym,
            "commitment": value.commitment,
            "nonce": _b64(value.nonce),
            "ciphertext": _b64(value.ciphertext),
        }
        for value in values
    ]


def read_value(conn: Connection, reference: str) -> tuple[bool, Any]:
    """``(True, value)`` for a readable reference, ``(False, None)`` once erased."""
    parsed = parse_reference(reference)
    if parsed is None:
        raise AuditError(f"{reference[:80]!r} is not a personal-data reference")
    pseudonym, commitment = parsed
    key_row = conn.execute(
        select(subjects_table).where(subjects_table.c.pseudonym == pseudonym)
    ).first()
    value_row = conn.execute(
        select(personal_table).where(
            personal_table.c.pseudonym == pseudonym, personal_table.c.commitment == commitment
        )
    ).first()
    if key_row is None or value_row is None:
        return False, None
    key = SubjectKey(key_row.subject, pseudonym, base64.b64decode(key_row.key))
    nonce, ciphertext = base64.b64decode(value_row.nonce), base64.b64decode(value_row.ciphertext)
    return True, open_value(key, SealedValue(pseudonym, commitment, nonce, ciphertext))


def erase_subject(conn: Connection, subject: str) -> tuple[str, int] | None:
    """Delete ``subject``'s key and values: ``(pseudonym, values deleted)``, or None."""
    pseudonym = conn.execute(
        select(subjects_table.c.pseudonym).where(subjects_table.c.subject == subject)
    ).scalar()
    if pseudonym is None:
        return None
    count = conn.execute(
        select(func.count())
        .select_from(personal_table)
        .where(personal_table.c.pseudonym == pseudonym)
    ).scalar_one()
    conn.execute(delete(personal_table).where(personal_table.c.pseudonym == pseudonym))
    conn.execute(delete(subjects_table).where(subjects_table.c.subject == subject))
    return str(pseudonym), int(count)


def _read_keys(conn: Connection, subjects: set[str]) -> dict[str, SubjectKey]:
    rows = conn.execute(select(subjects_table).where(subjects_table.c.subject.in_(subjects)))
    return {
        row.subject: SubjectKey(row.subject, row.pseudonym, base64.b64decode(row.key))
        for row in rows
    }


def _key_row(key: SubjectKey, created: str) -> dict[str, str]:
    return {
        "subject": key.subject,
        "pseudonym": key.pseudonym,
        "key": _b64(key.key),
        "created": created,
    }


def _insert_ignoring_conflicts(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return pg_insert(subjects_table).on_conflict_do_nothing()
    return sqlite_insert(subjects_table).on_conflict_do_nothing()
