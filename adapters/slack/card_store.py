"""Where each hold's Slack card is (``slack_cards`` in the approvals database).

Posting is claimed first (one row per hold, inserted once), so two service replicas or a
restart never post a hold twice; an update is claimed by moving ``shown_version``
forward with a compare-and-swap, so each version of a hold is shown once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from firewall.approvals.store import UtcDateTime, make_engine
from firewall.errors import StoreError
from firewall.sqlddl import create_missing
from firewall.sqlite_files import checked_file

UNSHOWN = -1
REQUEST_MEMORY = timedelta(minutes=10)
"""How long a signed request is remembered: longer than Slack's five-minute timestamp window."""

metadata = MetaData()
cards_table = Table(
    "slack_cards",
    metadata,
    Column("hold_id", String(128), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("ts", String(32)),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("shown_version", Integer, nullable=False),
    Column("outcome_posted", Boolean, nullable=False),
    Column("done", Boolean, nullable=False),
)

requests_table = Table(
    "slack_requests",
    metadata,
    Column("signature", String(80), primary_key=True),
    Column("seen_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class CardRow:
    """One hold's card: its message, and what it shows."""

    hold_id: str
    channel: str
    ts: str | None
    claimed_at: datetime
    shown_version: int
    outcome_posted: bool
    done: bool


class SqlCardStore:
    """The ``slack_cards`` table of the database at ``url``."""

    def __init__(self, url: str) -> None:
        self._engine, in_memory = make_engine(url, "Slack card database")
        self._lock = threading.Lock() if in_memory else nullcontext()
        try:
            with self._connection() as conn:
                create_missing(conn, cards_table, requests_table)
        except StoreError:
            self._engine.dispose()
            raise

    def claim(self, hold_id: str, channel: str, now: datetime) -> bool:
        """Claim the posting of ``hold_id``'s card; False if it was claimed before."""
        row = {
            "hold_id": hold_id,
            "channel": channel,
            "ts": None,
            "claimed_at": now,
            "shown_version": UNSHOWN,
            "outcome_posted": False,
            "done": False,
        }
        try:
            with self._connection() as conn:
                conn.execute(insert(cards_table).values(row))
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return True

    def first_seen(self, signature: str, now: datetime) -> bool:
        """Remember a signed request; False if it was seen before (an exact replay).

        Requests older than :data:`REQUEST_MEMORY` are forgotten: their timestamps are
        stale by then, so the signature check refuses them anyway.
        """
        try:
            with self._connection() as conn:
                forgotten = requests_table.c.seen_at < now - REQUEST_MEMORY
                conn.execute(delete(requests_table).where(forgotten))
                conn.execute(insert(requests_table).values(signature=signature, seen_at=now))
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return True

    def reclaim(self, card: CardRow, now: datetime) -> bool:
        """Take over a claim that never got posted (its poster died); True if won."""
        return self._swap(card.hold_id, cards_table.c.claimed_at == card.claimed_at, claimed_at=now)

    def posted(self, hold_id: str, ts: str, version: int) -> None:
        """Record the message ``ts`` of the posted card, showing ``version``."""
        self._swap(hold_id, cards_table.c.ts.is_(None), ts=ts, shown_version=version)

    def claim_version(self, card: CardRow, version: int) -> bool:
        """Claim showing ``version`` on the card; False if another worker did, or newer."""
        still = cards_table.c.shown_version == card.shown_version
        return version > card.shown_version and self._swap(
            card.hold_id, still, shown_version=version
        )

    def release_version(self, hold_id: str, claimed: int, previous: int) -> None:
        """Give a claimed version back after the update failed, so it is retried."""
        self._swap(hold_id, cards_table.c.shown_version == claimed, shown_version=previous)

    def claim_outcome(self, hold_id: str) -> bool:
        """Claim posting the outcome reply (once per hold); False if already claimed."""
        unposted = cards_table.c.outcome_posted.is_(False)
        return self._swap(hold_id, unposted, outcome_posted=True)

    def release_outcome(self, hold_id: str) -> None:
        """Give the outcome reply back after posting it failed, so it is retried."""
        self._swap(hold_id, cards_table.c.outcome_posted.is_(True), outcome_posted=False)

    def mark_done(self, hold_id: str) -> None:
        """Record that the card needs nothing more."""
        self._swap(hold_id, cards_table.c.done.is_(False), done=True)

    def get(self, hold_id: str) -> CardRow | None:
        """The card of ``hold_id``, or None."""
        with self._connection() as conn:
            row = conn.execute(select(cards_table).where(cards_table.c.hold_id == hold_id)).first()
        return None if row is None else CardRow(**row._mapping)

    def open_cards(self) -> list[CardRow]:
        """Cards that may still change (not done), claimed-but-unposted ones included."""
        query = select(cards_table).where(cards_table.c.done.is_(False))
        with self._connection() as conn:
            return [CardRow(**row._mapping) for row in conn.execute(query)]

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def _swap(self, hold_id: str, condition: object, **changes: object) -> bool:
        statement = (
            update(cards_table)
            .where(cards_table.c.hold_id == hold_id, condition)  # type: ignore[arg-type]
            .values(changes)
        )
        with self._connection() as conn:
            return conn.execute(statement).rowcount == 1

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            with self._lock, self._engine.connect() as conn, checked_file(conn), conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"slack card store failed: {type(exc).__name__}") from exc
