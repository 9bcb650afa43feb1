"""The card table: one post per hold, each version shown once, outcome replied once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from firewall.adapters.slack.card_store import UNSHOWN, SqlCardStore

from tests import services

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for this test only, dropped afterwards."""
    with services.fresh_schema(postgres_url, "cards") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cards(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlCardStore]:
    url = (
        f"sqlite:///{tmp_path / 'cards.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    store = SqlCardStore(url)
    yield store
    store.close()


def test_a_hold_is_claimed_for_posting_once(cards: SqlCardStore) -> None:
    assert cards.claim("hold_1", "C0A", NOW) is True
    assert cards.claim("hold_1", "C0A", NOW) is False
    row = cards.get("hold_1")
    assert row is not None
    assert (row.channel, row.ts, row.shown_version, row.claimed_at) == ("C0A", None, UNSHOWN, NOW)


def test_a_stale_claim_is_taken_over_by_one_worker(cards: SqlCardStore) -> None:
    cards.claim("hold_1", "C0A", NOW)
    row = cards.get("hold_1")
    assert row is not None
    later = NOW + timedelta(minutes=1)
    assert cards.reclaim(row, later) is True
    assert cards.reclaim(row, later) is False  # the second worker read the old claim


def test_each_version_is_claimed_for_showing_once(cards: SqlCardStore) -> None:
    cards.claim("hold_1", "C0A", NOW)
    cards.posted("hold_1", "1700000000.000100", version=0)
    row = cards.get("hold_1")
    assert row is not None
    assert (row.ts, row.shown_version) == ("1700000000.000100", 0)
    assert cards.claim_version(row, 2) is True
    assert cards.claim_version(row, 2) is False  # stale read
    newer = cards.get("hold_1")
    assert newer is not None
    assert cards.claim_version(newer, 1) is False  # never go back
    cards.release_version("hold_1", claimed=2, previous=0)
    released = cards.get("hold_1")
    assert released is not None
    assert released.shown_version == 0


def test_outcome_reply_is_claimed_once_and_done_cards_are_not_open(cards: SqlCardStore) -> None:
    for hold_id in ("hold_1", "hold_2"):
        cards.claim(hold_id, "C0A", NOW)
    assert cards.claim_outcome("hold_1") is True
    assert cards.claim_outcome("hold_1") is False
    cards.release_outcome("hold_1")
    assert cards.claim_outcome("hold_1") is True
    cards.mark_done("hold_1")
    assert [row.hold_id for row in cards.open_cards()] == ["hold_2"]
