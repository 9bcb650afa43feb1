"""A writer refuses a log that went back under it (firewall.audit.continuity)."""

from __future__ import annotations

import pytest

from firewall.audit.continuity import Continuity
from firewall.audit.heads import HeadState
from firewall.audit.merkle import Frontier
from firewall.errors import AuditError


def head(seq: int, chain: str | None = None) -> HeadState:
    return HeadState(seq, chain or f"h{seq}", Frontier(), "note", 0, "2026-01-01T00:00:00Z")


def committed_at(seq: int) -> Continuity:
    """A writer that committed the head at ``seq`` (whose records are h1..h<seq>)."""
    continuity = Continuity()
    continuity.check_head(head(seq))
    continuity.check_links(head(seq), {1: "h1", seq: f"h{seq}"})
    continuity.committed()
    return continuity


def test_a_head_behind_the_last_committed_one_is_refused() -> None:
    with pytest.raises(AuditError, match="went back from seq 5 to seq 3"):
        committed_at(5).check_head(head(3))


def test_a_head_beside_the_last_committed_one_is_refused() -> None:
    with pytest.raises(AuditError, match="went back from seq 5 to seq 5"):
        committed_at(5).check_head(head(5, "another hash"))


def test_the_same_head_or_one_ahead_is_accepted() -> None:
    continuity = committed_at(5)
    continuity.check_head(head(5))
    continuity.check_head(head(9))


def test_a_seal_that_never_committed_does_not_move_the_floor() -> None:
    continuity = committed_at(5)
    continuity.sealed(6, "h6")  # the transaction then failed
    continuity.check_head(head(5))


def test_a_head_whose_last_record_is_gone_is_refused() -> None:
    with pytest.raises(AuditError, match="audit record 7, "):
        committed_at(5).check_links(head(7), {1: "h1", 5: "h5"})


def test_a_head_ahead_whose_history_lost_the_committed_record_is_refused() -> None:
    with pytest.raises(AuditError, match="audit record 5, "):
        committed_at(5).check_links(head(7), {1: "h1", 5: "forged", 7: "h7"})


def test_a_first_record_that_changed_is_refused() -> None:
    with pytest.raises(AuditError, match="audit record 1, "):
        committed_at(5).check_links(head(7), {1: "other", 5: "h5", 7: "h7"})


def test_an_intact_history_passes_and_an_empty_log_needs_no_records() -> None:
    committed_at(5).check_links(head(7), {1: "h1", 5: "h5", 7: "h7"})
    Continuity().check_links(head(0), {})
