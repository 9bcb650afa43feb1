"""Group commit across processes on PostgreSQL: hand events over, seal them together.

A process commits its prepared events to the UNLOGGED ``audit_pending`` table (no WAL,
so no fsync), then tries, without waiting, to lock the head and take every pending
event in one statement. If it gets the lock, it seals what it took, its own events and
those of the processes that handed theirs over meanwhile, in one transaction, and
``NOTIFY``s. If another process holds the lock, it waits for that notification and
looks for its records. Only sealing transactions hold the lock, so the lock is never
queued for, and each seal takes everything pending.

Each handed-off row carries an HMAC under a key derived from the writer's private key:
rows planted by someone with only database access are never sealed. Statements run on
psycopg directly in pipeline mode, a round trip per step: a handover, a claim, a seal.
An event is durable when the transaction holding its record commits, and only then
does its append return.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import structlog

from firewall.audit.announce import announcements, placements, rebuild
from firewall.audit.appender import DirectSealer, prepare
from firewall.audit.continuity import READ_LINKS
from firewall.audit.heads import PendingEntry
from firewall.audit.records import SealedRecord
from firewall.audit.vault import SealedValue
from firewall.errors import AuditError
from firewall.types import new_id

log = structlog.get_logger("firewall.audit")
LOCK_WAIT_LIMIT_S = 60.0
# A missed notification only costs this much latency: the loop looks again.
NOTIFY_WAIT_S = 0.05
FALLBACK_AFTER_S = 1.0

_PENDING_COLUMNS = ("ticket", "event", "call_id", "entry", "personal", "mac")
_HAND_OVER = (
    "INSERT INTO audit_pending (ticket, event, call_id, entry, personal, mac) "
    "VALUES (%(ticket)s, %(event)s, %(call_id)s, %(entry)s, %(personal)s, %(mac)s)"
)
# One round trip: lock the head if it is free and then take every pending event, or,
# if another process holds it, hand this process's events over to it.
_CLAIM_OR_HAND_OVER = """
WITH head AS (
    SELECT seq, hash, frontier, note, checkpoint_size, checkpoint_time
    FROM audit_head WHERE id = 1 FOR UPDATE SKIP LOCKED
), taken AS (
    DELETE FROM audit_pending WHERE EXISTS (SELECT 1 FROM head)
    RETURNING id, ticket, event, call_id, entry, personal, mac
), handed AS (
    INSERT INTO audit_pending (ticket, event, call_id, entry, personal, mac)
    SELECT * FROM unnest(
        %(ticket)s::text[], %(event)s::text[], %(call_id)s::text[],
        %(entry)s::text[], %(personal)s::text[], %(mac)s::text[]
    )
    WHERE NOT EXISTS (SELECT 1 FROM head)
    RETURNING id
)
SELECT
    (SELECT row_to_json(head) FROM head),
    (SELECT coalesce(json_agg(taken ORDER BY taken.id), '[]'::json) FROM taken),
    (SELECT count(*) FROM handed),
    EXISTS (SELECT 1 FROM audit_head WHERE id = 1),
    (SELECT coalesce(json_agg(json_build_array(seq, hash)), '[]'::json) FROM audit_records
     WHERE seq = 1 OR seq = (SELECT seq FROM head) OR seq = %(known_seq)s)
"""
_SEALED_FOR = "SELECT seq, hash, body FROM audit_records WHERE ticket = %(ticket)s ORDER BY seq"


class HandoffSealer(DirectSealer):
    """Hand events to ``audit_pending``; seal every pending event when the head is free."""

    def _on_connect(self, conn: Any) -> None:
        conn.exec_driver_sql(f"LISTEN {self._channel}")

    @property
    def _channel(self) -> str:
        return "firewall_audit_" + self.writer.origin.rsplit("/", 1)[-1][:32]

    def __call__(self, events: Sequence[dict[str, Any]]) -> list[SealedRecord]:
        ticket = new_id("t")
        with self.session.begin() as conn:  # subject keys may need the database
            entries = prepare(conn, events, self.subject_keys)
        for entry in entries:
            entry.ticket = ticket
        mine = self._claim_and_seal(ticket, entries)
        return mine or self._await_sealing(ticket, entries)

    def _await_sealing(self, ticket: str, entries: list[PendingEntry]) -> list[SealedRecord]:
        started = time.monotonic()
        while time.monotonic() - started < LOCK_WAIT_LIMIT_S:
            mine = self._announced(ticket, entries) or self._claim_and_seal(ticket, [])
            if not mine and time.monotonic() - started > FALLBACK_AFTER_S:
                mine = self._sealed_for(ticket)  # e.g. after a reconnect lost a notification
            if mine:
                if len(mine) != len(entries):
                    raise AuditError(f"expected {len(entries)} sealed records, found {len(mine)}")
                return mine
        raise AuditError(
            f"audit records not sealed within {LOCK_WAIT_LIMIT_S:g}s (head row missing, "
            "handed-off events lost, or a writer stuck holding the head lock)"
        )

    def _claim_and_seal(self, ticket: str, own: list[PendingEntry]) -> list[SealedRecord]:
        """Seal everything pending plus ``own`` if the head is free, else hand ``own`` over."""
        note, mine = None, []
        continuity = self.writer.continuity
        params: dict[str, Any] = {**self._offer(own), "known_seq": continuity.known_seq}
        with self._driver() as driver:
            with driver.cursor() as cursor:
                cursor.execute(_CLAIM_OR_HAND_OVER, params)
                head_row, taken, _, head_exists, links = cursor.fetchone()
            if head_row is None:
                if not head_exists:  # emptied or deleted: no holder will ever seal
                    raise AuditError("audit head row is missing; run `firewall audit verify`")
                driver.commit()  # the hand-over (if any) becomes visible to the holder
                return []
            head = self.writer.head_from_row(head_row)
            if continuity.links_problem(head, dict(links)) is not None:
                # That look may predate the lock: a new statement sees what is committed.
                fresh = driver.execute(READ_LINKS, continuity.link_params(head)).fetchall()
                continuity.check_links(head, dict(fresh))
            batch = self._accepted(taken, driver) + own
            with driver.pipeline():
                if batch:
                    records, note = self.writer.append(RawDriver(driver), head, batch)
                    pairs = list(zip(records, batch, strict=True))
                    mine = [record for record, entry in pairs if entry.ticket == ticket]
                    self._announce(driver, pairs)
                driver.commit()
        continuity.committed()
        if note:
            self.on_checkpoint(note)
        return mine

    def _offer(self, own: list[PendingEntry]) -> dict[str, list[Any]]:
        rows = [self._pending_row(str(entry.ticket), entry) for entry in own]
        return {column: [row[column] for row in rows] for column in _PENDING_COLUMNS}

    def _announce(self, driver: Any, pairs: list[tuple[SealedRecord, PendingEntry]]) -> None:
        """NOTIFY, under the handoff MAC, where each ticket's records went."""
        for payload in announcements(pairs, self.writer.keys.handoff_keys[0]):
            driver.execute(
                "SELECT pg_notify(%(channel)s, %(payload)s)",
                {"channel": self._channel, "payload": payload},
            )

    def _announced(self, ticket: str, entries: list[PendingEntry]) -> list[SealedRecord]:
        """Wait briefly for the next announcement; this ticket's records if it places them.

        Any announcement ends the wait: the head may be free now, so the caller tries it.
        """
        keys = self.writer.keys.handoff_keys
        with self._driver() as driver:
            for notice in driver.notifies(timeout=NOTIFY_WAIT_S, stop_after=1):
                found = placements(notice.payload, keys).get(ticket)
                if found is not None:
                    time_text, runs = found
                    return rebuild(entries, runs, time_text)
        return []

    def _sealed_for(self, ticket: str) -> list[SealedRecord]:
        with self._driver() as driver:
            rows = driver.execute(_SEALED_FOR, {"ticket": ticket}).fetchall()
            driver.rollback()
        return [SealedRecord(int(seq), str(h), str(body)) for seq, h, body in rows]

    @contextmanager
    def _driver(self) -> Iterator[Any]:
        """The psycopg connection; any driver error rolls back and becomes AuditError."""
        driver = self.session.driver()
        try:
            yield driver
        except BaseException as exc:
            self.session.discard_transaction()
            if isinstance(exc, self.session.dbapi_error):
                message = f"audit log could not append: {type(exc).__name__}: {exc}"
                raise AuditError(message) from exc
            raise

    def _pending_row(self, ticket: str, entry: PendingEntry) -> dict[str, Any]:
        row = {
            "ticket": ticket,
            "event": entry.event,
            "call_id": entry.call_id,
            "entry": entry.entry,
            "personal": json.dumps([_encode_value(value) for value in entry.values]),
        }
        return row | {"mac": _mac(self.writer.keys.handoff_keys[0], row)}

    def _accepted(self, taken: list[dict[str, Any]], driver: Any) -> list[PendingEntry]:
        keys = self.writer.keys.handoff_keys
        accepted = [row for row in taken if any(_mac_ok(key, row) for key in keys)]
        rejected = [row for row in taken if row not in accepted]
        if rejected:
            # Planted rows, or another writer's under a key this process never held.
            log.warning("audit_pending_not_sealed", rows=len(rejected))
            with driver.cursor() as cursor:
                cursor.executemany(
                    _HAND_OVER, [{n: row[n] for n in _PENDING_COLUMNS} for row in rejected]
                )
        return [_entry(row) for row in accepted]


class RawDriver:
    """:class:`~firewall.audit.rawsql.Statements` on a psycopg connection (pipelined)."""

    postgres = True

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    def run(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Queue one statement (the pipeline sends it with the commit)."""
        self._driver.execute(sql, params or {})

    def run_many(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        """Queue one statement per parameter set."""
        if rows:
            with self._driver.cursor() as cursor:
                cursor.executemany(sql, rows)


def _entry(row: dict[str, Any]) -> PendingEntry:
    return PendingEntry(
        entry=row["entry"],
        event=row["event"],
        call_id=row["call_id"],
        values=[_decode_value(item) for item in json.loads(row["personal"])],
        ticket=row["ticket"],
    )


def _encode_value(value: SealedValue) -> list[str]:
    nonce = base64.b64encode(value.nonce).decode("ascii")
    ciphertext = base64.b64encode(value.ciphertext).decode("ascii")
    return [value.pseudonym, value.commitment, nonce, ciphertext]


def _decode_value(item: list[str]) -> SealedValue:
    pseudonym, commitment, nonce, ciphertext = item
    return SealedValue(pseudonym, commitment, base64.b64decode(nonce), base64.b64decode(ciphertext))


def _mac(key: bytes, row: dict[str, Any]) -> str:
    fields = [row["ticket"], row["event"], row["call_id"], row["entry"], row["personal"]]
    return hmac.new(key, json.dumps(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def _mac_ok(key: bytes, row: dict[str, Any]) -> bool:
    return hmac.compare_digest(_mac(key, row), str(row["mac"]))
