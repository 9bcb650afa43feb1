"""``Privacy``: real values for tools, commitments for policy and audit, protected output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firewall.pii.privacy import Privacy
from firewall.pii.rules import PiiMode, PiiRule
from firewall.pii.tokens import TokenError
from firewall.types import Principal, ToolCall, ToolSpec

AGENT = Principal(agent_id="bot", tenant="acme", scopes=frozenset({"crm:read"}))
CRM = ToolSpec(name="crm_lookup", scope="crm:read")
RECORD = {"name": "Ada", "email": "ada@example.com", "card": "4111 1111 1111 1111", "id": "c-100"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _call(args: dict[str, object], session: str = "s-1", tenant: str = "acme") -> ToolCall:
    principal = AGENT.model_copy(update={"tenant": tenant})
    return ToolCall(tool="crm_lookup", args=args, principal=principal, session_id=session)


def test_output_tokens_resolve_back_to_the_real_values_in_the_same_session() -> None:
    privacy = Privacy()
    shown = privacy.protect_output(_call({}), CRM, RECORD)
    assert shown["email"].startswith("<EMAIL_")
    assert shown["card"].startswith("<CARD_")
    assert shown["id"] == "c-100"
    restored = privacy.restore_args(_call({"to": shown["email"], "note": f"card {shown['card']}"}))
    assert restored == {"to": "ada@example.com", "note": "card 4111 1111 1111 1111"}


@pytest.mark.parametrize(("session", "tenant"), [("s-2", "acme"), ("s-1", "globex")])
def test_a_token_is_refused_in_another_session_or_tenant(session: str, tenant: str) -> None:
    privacy = Privacy()
    token = privacy.protect_output(_call({}), CRM, RECORD)["email"]
    with pytest.raises(TokenError, match="another session"):
        privacy.restore_args(_call({"to": token}, session=session, tenant=tenant))


def test_a_token_expires() -> None:
    clock = Clock()
    privacy = Privacy(clock=clock, token_ttl_s=60)
    token = privacy.protect_output(_call({}), CRM, RECORD)["email"]
    clock.now += timedelta(seconds=61)
    with pytest.raises(TokenError, match="expired"):
        privacy.restore_args(_call({"to": token}))


def test_commitments_hide_detected_values_but_keep_tokens_and_ids() -> None:
    privacy = Privacy()
    token = privacy.protect_output(_call({}), CRM, RECORD)["email"]
    args = {"to": token, "note": "call me at ada@example.com", "customer_id": "c-100"}
    committed = privacy.commitments(args)
    assert committed["to"] == token
    assert committed["customer_id"] == "c-100"
    assert "ada@example.com" not in committed["note"]
    assert committed["note"].startswith("call me at <EMAIL#")
    assert privacy.commitments(args) == committed  # stable: equal values commit equal


def test_commit_leaves_dates_amounts_and_ids_of_facts_alone() -> None:
    facts = {"order": {"id": "o-1", "amount": 80.0, "placed": "2026-11-01T10:00:00+00:00"}}
    assert Privacy().commit(facts) == facts


def test_a_tool_rule_and_a_redact_obligation_shape_the_output() -> None:
    rule = PiiRule(mode=PiiMode.TOKENIZE, kinds={"CARD": PiiMode.MASK})  # type: ignore[dict-item]
    spec = CRM.model_copy(update={"output_pii": rule})
    shown = Privacy().protect_output(_call({}), spec, RECORD, redact=("name",))
    assert shown["card"] == "************1111"
    assert shown["email"].startswith("<EMAIL_")
    assert shown["name"] == "[PERSONAL]"


def test_protecting_output_twice_keeps_the_tokens_it_made() -> None:
    privacy = Privacy()
    once = privacy.protect_output(_call({}), CRM, "write to ada@example.com")
    assert privacy.protect_output(_call({}), CRM, once) == once


def test_the_replay_capture_commits_every_subject_but_the_calls_own() -> None:
    """Another customer read earlier in the session is a commitment, in history and subjects."""
    privacy = Privacy()
    session = {
        "id": "s-1",
        "subjects": {"crm_lookup": ["c-100", "c-200"]},
        "history": [
            {"tool": "crm_lookup", "outcome": "ok", "labels": [], "subject": "c-200"},
            {"tool": "read_ticket", "outcome": "ok", "labels": [], "subject": None},
        ],
    }
    captured = privacy.replayable({"args": {"customer_id": "c-100"}, "session": session}, {"c-100"})
    [own, other] = captured["session"]["subjects"]["crm_lookup"]
    assert "args" not in captured
    assert own == "c-100"
    assert other != "c-200"
    assert other.startswith("<")
    assert captured["session"]["history"][0]["subject"] == other
    assert captured["session"]["history"][1]["subject"] is None


def test_protected_output_tells_the_policy_which_tool_and_labels_showed_a_value() -> None:
    privacy = Privacy()
    ticket = ToolSpec(name="read_ticket", scope="crm:read", output_labels=("untrusted",))
    read = ToolCall(tool="read_ticket", args={}, principal=AGENT, session_id="s-1")
    shown = privacy.protect_output(read, ticket, "mail x@attacker.example")
    token = shown.removeprefix("mail ")
    view = privacy.provenance(_call({"to": token, "subject": "hi"}))
    assert view["tokens"][token]["sources"] == {"untrusted": ["read_ticket"]}
    assert view["arg_sources"]["to"]["typed"] is False
    assert view["arg_sources"]["subject"] == {
        "tokens": [],
        "typed": True,
        "tools": [],
        "labels": [],
        "sources": {},
    }


def test_provenance_of_a_token_from_another_session_is_refused() -> None:
    privacy = Privacy()
    shown = privacy.protect_output(_call({}, session="s-1"), CRM, RECORD)
    with pytest.raises(TokenError, match="another session"):
        privacy.provenance(_call({"to": shown["email"]}, session="s-2"))
