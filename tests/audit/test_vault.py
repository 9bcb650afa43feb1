"""Personal data: keyed commitments in records, values encrypted under the subject's key."""

from __future__ import annotations

import pytest

from firewall.audit.vault import (
    SubjectKey,
    commit,
    open_value,
    parse_reference,
    protect,
    seal_value,
    subject_of,
)
from firewall.errors import AuditError

JANE = SubjectKey.generate("customer:c-100")
EVENT = {
    "event": "decision",
    "call_id": "call_1",
    "principal": {"agent_id": "bot", "tenant": "acme", "on_behalf_of": "customer:c-100"},
    "args": {"order_id": "o-1", "email": "jane@example.com", "note": "VIP"},
    "personal_args": ["email", "note", "missing"],
}


def test_a_sealed_value_opens_only_with_its_subject_key() -> None:
    sealed = seal_value(JANE, {"name": "Jane Doe"})
    assert open_value(JANE, sealed) == {"name": "Jane Doe"}
    with pytest.raises(AuditError, match="fails authentication"):
        open_value(SubjectKey.generate("customer:c-100"), sealed)


def test_a_ciphertext_moved_to_another_reference_fails_authentication() -> None:
    first, second = seal_value(JANE, "a@example.com"), seal_value(JANE, "b@example.com")
    swapped = type(first)(first.pseudonym, second.commitment, first.nonce, first.ciphertext)
    with pytest.raises(AuditError, match="fails authentication"):
        open_value(JANE, swapped)


def test_commitments_are_keyed_per_subject() -> None:
    other = SubjectKey.generate("customer:c-200")
    assert commit(JANE, "jane@example.com") == commit(JANE, "jane@example.com")
    assert commit(JANE, "jane@example.com") != commit(other, "jane@example.com")


def test_protect_replaces_the_subject_and_personal_args_by_references() -> None:
    protected, sealed = protect(EVENT, JANE)
    assert protected["args"]["order_id"] == "o-1"
    references = [
        protected["principal"]["on_behalf_of"],
        protected["args"]["email"],
        protected["args"]["note"],
    ]
    assert [parse_reference(ref) for ref in references] == [
        (JANE.pseudonym, value.commitment) for value in sealed
    ]
    assert [open_value(JANE, value) for value in sealed] == [
        "customer:c-100",
        "jane@example.com",
        "VIP",
    ]
    assert "c-100" not in str(protected)
    assert "jane" not in str(protected)


def test_the_subject_is_the_principals_customer_else_the_call() -> None:
    assert subject_of(EVENT) == "customer:c-100"
    anonymous = {**EVENT, "principal": {"agent_id": "bot", "on_behalf_of": None}}
    assert subject_of(anonymous) == "call:call_1"
    assert subject_of({"event": "outcome", "args": {"email": "x"}}) is None


def test_references_are_recognised_exactly() -> None:
    reference = seal_value(JANE, "x").reference
    assert parse_reference(reference) is not None
    assert parse_reference(reference + "0") is None
    assert parse_reference(42) is None
    assert "key" not in repr(JANE).replace("key=<hidden>", "")


def test_free_text_quoting_a_personal_value_is_scrubbed() -> None:
    event = EVENT | {
        "reasons": ["this session acts for customer 'c-100', not for jane@example.com"],
        "details": {"note": "asked by customer:c-100", "count": 3},
    }
    protected, sealed = protect(event, JANE)
    text = str(protected["reasons"]) + str(protected["details"])
    assert "c-100" not in text
    assert "jane@example.com" not in text
    assert protected["details"]["count"] == 3
    opened = {open_value(JANE, value) for value in sealed}
    assert {"customer:c-100", "c-100", "jane@example.com"} <= opened


def test_mentions_needing_json_escapes_are_scrubbed_in_nested_details() -> None:
    """Found by the strings themselves, not by their JSON text (which escapes é and ")."""
    event = EVENT | {
        "args": {"name": 'Zoë "Z" Ng'},
        "personal_args": ["name"],
        "details": {"policy_input": {"history": [{"note": 'for Zoë "Z" Ng'}, ("x",)]}},
    }
    protected, sealed = protect(event, JANE)
    note = protected["details"]["policy_input"]["history"][0]["note"]
    assert "Zoë" not in note
    assert parse_reference(note.removeprefix("for ")) is not None
    assert list(protected["details"]["policy_input"]["history"][1]) == ["x"]
    assert 'Zoë "Z" Ng' in {open_value(JANE, value) for value in sealed}


def test_free_text_without_a_mention_is_left_as_it_was() -> None:
    event = EVENT | {"reasons": ("nothing personal here",), "details": {"n": 1}}
    protected, _ = protect(event, JANE)
    assert protected["reasons"] == ("nothing personal here",)
    assert protected["details"] is event["details"]


def test_short_values_are_not_searched_for_in_free_text() -> None:
    event = EVENT | {"args": {"code": "ab"}, "personal_args": ["code"], "reasons": ["abc"]}
    protected, _ = protect(event, JANE)
    assert protected["reasons"] == ["abc"]


def test_sealed_mentions_are_the_subject_and_personal_strings_long_enough_to_search() -> None:
    """Texts too short to search for are not scrubbed, so the policy capture commits them."""
    from firewall.audit.vault import sealed_mentions

    assert sealed_mentions("customer:c1", ["ab", 5, "c-100"]) == {"customer:c1", "c-100"}
    assert sealed_mentions(None, []) == set()
