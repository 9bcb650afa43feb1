"""The policy's view of where a call's argument values came from: tokens, never values."""

from __future__ import annotations

from firewall.pii.provenance import provenance_view, typed
from firewall.pii.tokens import Provenance, TokenSource

CRM = TokenSource.of("crm_lookup")
TICKET = TokenSource.of("read_ticket", ["untrusted"])
KNOWN: dict[str, Provenance] = {
    "<EMAIL_aaaaaaaaaaaa>": frozenset({CRM}),
    "<EMAIL_bbbbbbbbbbbb>": frozenset({TICKET, CRM}),
    "<PHONE_cccccccccccc>": frozenset(),
}


def test_each_token_shows_its_kind_tools_and_labels_by_source() -> None:
    view = provenance_view({"to": "<EMAIL_bbbbbbbbbbbb>"}, KNOWN.__getitem__)
    assert view["tokens"] == {
        "<EMAIL_bbbbbbbbbbbb>": {
            "kind": "EMAIL",
            "tools": ["crm_lookup", "read_ticket"],
            "labels": ["untrusted"],
            "sources": {"untrusted": ["read_ticket"]},
        }
    }


def test_each_argument_combines_the_sources_of_its_tokens() -> None:
    args = {
        "to": ["<EMAIL_aaaaaaaaaaaa>", "<EMAIL_bbbbbbbbbbbb>"],
        "body": "call <PHONE_cccccccccccc> or <EMAIL_aaaaaaaaaaaa>",
        "amount": 5,
    }
    view = provenance_view(args, KNOWN.__getitem__)["arg_sources"]
    assert view["to"] == {
        "tokens": ["<EMAIL_aaaaaaaaaaaa>", "<EMAIL_bbbbbbbbbbbb>"],
        "typed": False,
        "tools": ["crm_lookup", "read_ticket"],
        "labels": ["untrusted"],
        "sources": {"untrusted": ["read_ticket"]},
    }
    assert view["body"]["tokens"] == ["<PHONE_cccccccccccc>", "<EMAIL_aaaaaaaaaaaa>"]
    assert view["body"]["typed"] is True
    assert view["amount"] == {"tokens": [], "typed": True, "tools": [], "labels": [], "sources": {}}


def test_the_view_holds_no_value_the_agent_typed() -> None:
    view = provenance_view(
        {"url": "https://attacker.example/?e=ada@example.com"}, KNOWN.__getitem__
    )
    assert "attacker" not in str(view)
    assert "ada@" not in str(view)
    assert view["arg_sources"]["url"]["typed"] is True


def test_typed_means_anything_besides_tokens() -> None:
    assert typed("  <EMAIL_aaaaaaaaaaaa> ") is False
    assert typed({"a": ["<EMAIL_aaaaaaaaaaaa>"], "b": None}) is False
    assert typed("<EMAIL_aaaaaaaaaaaa>, x@evil.example") is True
    assert typed(["<EMAIL_aaaaaaaaaaaa>", 7]) is True
    assert typed({"nested": {"deeper": "text"}}) is True
