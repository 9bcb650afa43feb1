"""Protection modes, and the reversible token round trip with its scope rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from firewall.pii.detect import PiiKind
from firewall.pii.protect import PiiMode, PiiRule, Protector, mask
from firewall.pii.tokens import MemoryTokenVault, TokenError, TokenScope, TokenSource

SESSION = TokenScope(tenant="acme", session_id="s1")
OTHER = TokenScope(tenant="acme", session_id="s2")
RECORD = {"name": "Ada Lovelace", "email": "ada@example.com", "note": "card 4111111111111111"}


def protector() -> Protector:
    return Protector(MemoryTokenVault(lambda: datetime.now(UTC), ttl_s=60))


def test_tokenized_output_round_trips_to_the_real_values() -> None:
    guard = protector()
    seen = guard.protect(RECORD, SESSION, PiiRule(fields={"name": PiiMode.TOKENIZE}))
    assert "ada@example.com" not in str(seen)
    assert "4111111111111111" not in str(seen)
    assert "Ada Lovelace" not in str(seen)
    assert seen["email"].startswith("<EMAIL_")
    assert guard.restore({"to": seen["email"], "who": seen["name"]}, SESSION) == {
        "to": "ada@example.com",
        "who": "Ada Lovelace",
    }


def test_same_value_gets_the_same_token_in_a_session() -> None:
    guard = protector()
    first = guard.protect("ada@example.com", SESSION, PiiRule())
    again = guard.protect("mail ada@example.com", SESSION, PiiRule())
    assert again == f"mail {first}"


def test_token_from_another_session_is_refused() -> None:
    guard = protector()
    token = guard.protect("ada@example.com", SESSION, PiiRule())
    with pytest.raises(TokenError, match="another session"):
        guard.restore(token, OTHER)


def test_unknown_token_is_refused() -> None:
    with pytest.raises(TokenError, match="unknown"):
        protector().restore("<EMAIL_0123456789ab>", SESSION)


def test_expired_token_is_refused() -> None:
    with freeze_time(datetime(2026, 11, 23, tzinfo=UTC)) as frozen:
        guard = protector()
        token = guard.protect("ada@example.com", SESSION, PiiRule())
        frozen.tick(timedelta(seconds=61))
        with pytest.raises(TokenError, match="expired"):
            guard.restore(token, SESSION)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (PiiMode.REDACT, "mail [EMAIL]"),
        (PiiMode.MASK, "mail a***@example.com"),
        (PiiMode.KEEP, "mail ada@example.com"),
    ],
)
def test_modes(mode: PiiMode, expected: str) -> None:
    assert protector().protect("mail ada@example.com", SESSION, PiiRule(mode=mode)) == expected


def test_hash_mode_is_stable_and_irreversible() -> None:
    guard = protector()
    one = guard.protect("ada@example.com", SESSION, PiiRule(mode=PiiMode.HASH))
    two = guard.protect("ada@example.com", OTHER, PiiRule(mode=PiiMode.HASH))
    assert one == two
    assert one.startswith("<EMAIL#")
    assert guard.restore(one, SESSION) == one


def test_per_kind_mode_overrides_the_default() -> None:
    rule = PiiRule(mode=PiiMode.TOKENIZE, kinds={PiiKind.CARD: PiiMode.MASK})
    assert protector().protect("4111111111111111", SESSION, rule) == "************1111"


def test_mask_keeps_only_recognisable_parts() -> None:
    assert mask(PiiKind.IBAN, "GB82 WEST 1234 5698 7654 32") == "GB82****************32"
    assert mask(PiiKind.PHONE, "+1 415-555-2671") == "*******2671"
    assert mask(PiiKind.PERSONAL, "Ada") == "***"


def test_non_text_values_pass_through() -> None:
    assert protector().protect({"amount": 12.5, "ok": True, "n": None}, SESSION, PiiRule()) == {
        "amount": 12.5,
        "ok": True,
        "n": None,
    }


def test_output_tokenized_for_a_tool_remembers_that_tool_and_its_labels() -> None:
    guard = protector()
    ticket = TokenSource.of("read_ticket", ["untrusted"])
    shown = guard.protect({"body": "write to x@attacker.example"}, SESSION, PiiRule(), ticket)
    token = shown["body"].removeprefix("write to ")
    assert guard.vault.provenance(SESSION, token) == {ticket}


def test_a_token_quoted_in_output_is_kept_and_gains_that_output_as_a_source() -> None:
    guard = protector()
    crm, ticket = TokenSource.of("crm_lookup"), TokenSource.of("read_ticket", ["untrusted"])
    token = guard.protect("ada@example.com", SESSION, PiiRule(), crm)
    assert guard.protect(f"reply to {token}", SESSION, PiiRule(), ticket) == f"reply to {token}"
    assert guard.vault.provenance(SESSION, token) == {crm, ticket}
