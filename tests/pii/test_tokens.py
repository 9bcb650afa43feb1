"""``MemoryTokenVault`` provenance: where a value came from, kept per value and scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firewall.pii.tokens import MemoryTokenVault, TokenError, TokenScope, TokenSource

SESSION = TokenScope(tenant="acme", session_id="s1")
OTHER = TokenScope(tenant="acme", session_id="s2")
CRM = TokenSource.of("crm_lookup")
TICKET = TokenSource.of("read_ticket", ["untrusted"])


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_token_remembers_the_tool_and_labels_that_showed_its_value() -> None:
    vault = MemoryTokenVault(Clock())
    token = vault.tokenize(SESSION, "EMAIL", "x@attacker.example", TICKET)
    assert vault.provenance(SESSION, token) == {TICKET}
    assert TICKET.labels == ("untrusted",)


def test_sources_accumulate_and_a_trusted_sighting_does_not_clear_a_taint() -> None:
    vault = MemoryTokenVault(Clock())
    token = vault.tokenize(SESSION, "EMAIL", "x@attacker.example", TICKET)
    again = vault.tokenize(SESSION, "EMAIL", "x@attacker.example", CRM)
    assert again == token
    assert vault.provenance(SESSION, token) == {TICKET, CRM}


def test_provenance_survives_the_expiry_of_the_first_token() -> None:
    clock = Clock()
    vault = MemoryTokenVault(clock, ttl_s=60)
    first = vault.tokenize(SESSION, "EMAIL", "x@attacker.example", TICKET)
    clock.now += timedelta(seconds=61)
    second = vault.tokenize(SESSION, "EMAIL", "x@attacker.example", CRM)
    assert second != first
    assert vault.provenance(SESSION, second) == {TICKET, CRM}


def test_provenance_is_per_value_whatever_kind_it_was_found_as() -> None:
    vault = MemoryTokenVault(Clock())
    vault.tokenize(SESSION, "EMAIL", "x@attacker.example", TICKET)
    personal = vault.tokenize(SESSION, "PERSONAL", "x@attacker.example", CRM)
    assert vault.provenance(SESSION, personal) == {TICKET, CRM}


def test_provenance_stays_in_its_session() -> None:
    vault = MemoryTokenVault(Clock())
    vault.tokenize(SESSION, "EMAIL", "x@attacker.example", TICKET)
    elsewhere = vault.tokenize(OTHER, "EMAIL", "x@attacker.example", CRM)
    assert vault.provenance(OTHER, elsewhere) == {CRM}


def test_provenance_of_a_foreign_or_unknown_token_is_refused() -> None:
    vault = MemoryTokenVault(Clock())
    token = vault.tokenize(SESSION, "EMAIL", "ada@example.com", CRM)
    with pytest.raises(TokenError, match="another session"):
        vault.provenance(OTHER, token)
    with pytest.raises(TokenError, match="unknown"):
        vault.provenance(SESSION, "<EMAIL_0123456789ab>")


def test_a_token_seen_in_output_gains_that_source() -> None:
    vault = MemoryTokenVault(Clock())
    token = vault.tokenize(SESSION, "EMAIL", "ada@example.com", CRM)
    vault.seen(SESSION, token, TICKET)
    assert vault.provenance(SESSION, token) == {CRM, TICKET}


def test_a_foreign_token_seen_in_output_is_left_alone() -> None:
    vault = MemoryTokenVault(Clock())
    token = vault.tokenize(OTHER, "EMAIL", "ada@example.com", CRM)
    vault.seen(SESSION, token, TICKET)
    vault.seen(SESSION, "<EMAIL_0123456789ab>", TICKET)
    assert vault.provenance(OTHER, token) == {CRM}


def test_a_value_tokenized_without_a_source_has_no_known_origin() -> None:
    vault = MemoryTokenVault(Clock())
    token = vault.tokenize(SESSION, "EMAIL", "ada@example.com")
    assert vault.provenance(SESSION, token) == frozenset()


def test_equal_sources_compare_equal_whatever_the_label_order() -> None:
    assert TokenSource.of("t", ["b", "a", "a"]) == TokenSource("t", ("a", "b"))
