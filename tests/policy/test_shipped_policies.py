"""The shipped policies decide each case as specified, identically on both engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from firewall.policy.document import DecisionDocument
from firewall.policy.embedded import RegoEngine
from firewall.policy.opa_server import OpaServerEngine
from firewall.testing.opa_server import OpaTestServer
from firewall.types import Obligations

SUPERVISOR = Obligations(approvers="supervisors", quorum=1, ttl_s=900)
TWO_SUPERVISORS = Obligations(approvers="supervisors", quorum=2, ttl_s=900)
CUSTOMER = {"id": "c1", "tenant": "t1"}
ORDER = {"id": "o1", "tenant": "t1", "amount": 8000, "customer_id": "c1"}

InputFactory = Callable[..., dict[str, Any]]


def refund(amount: Any, order: dict[str, Any] | None = ORDER) -> tuple[str, dict[str, Any], Any]:
    return (
        "issue_refund",
        {"order_id": "o1", "amount": amount, "reason": "damaged"},
        {"order": order},
    )


def charge(amount: Any, customer: dict[str, Any] | None = CUSTOMER) -> tuple[str, Any, Any]:
    args = {"customer_id": "c1", "amount": amount, "description": "renewal"}
    return "charge_card", args, {"customer": customer}


CASES: dict[str, tuple[tuple[str, Any, Any], DecisionDocument]] = {
    "unknown tool": (
        ("delete_all", {}, {}),
        DecisionDocument(outcome="deny", reasons=("no policy allows tool 'delete_all'",)),
    ),
    "crm same tenant": (
        ("crm_lookup", {"customer_id": "c1"}, {"customer": CUSTOMER}),
        DecisionDocument(outcome="allow", reasons=()),
    ),
    "crm other tenant": (
        ("crm_lookup", {"customer_id": "c1"}, {"customer": {"id": "c1", "tenant": "t2"}}),
        DecisionDocument(
            outcome="deny",
            reasons=(
                "customer 'c1' belongs to another tenant; look up only your own tenant's customers",
            ),
        ),
    ),
    "crm unknown customer": (
        ("crm_lookup", {"customer_id": "c9"}, {"customer": None}),
        DecisionDocument(
            outcome="deny",
            reasons=("unknown customer: no customer matches this lookup; check the customer id",),
        ),
    ),
    "refund within auto limit": (refund(100), DecisionDocument(outcome="allow", reasons=())),
    "refund above auto limit": (
        refund(250),
        DecisionDocument(
            outcome="hold",
            reasons=(
                "refund of 250 is above the auto-approve limit of 100; "
                "a supervisor must approve it",
            ),
            obligations=SUPERVISOR,
        ),
    ),
    "refund above two-approver threshold": (
        refund(5000.5),
        DecisionDocument(
            outcome="hold",
            reasons=(
                "refund of 5000.5 is above the auto-approve limit of 100; "
                "a supervisor must approve it",
                "refunds above 5000 need two supervisors to approve",
            ),
            obligations=TWO_SUPERVISORS,
        ),
    ),
    "refund above hard cap": (
        refund(10001, {**ORDER, "amount": 20000}),
        DecisionDocument(
            outcome="deny",
            reasons=("refund of 10001 exceeds the hard cap of 10000; escalate to a human",),
        ),
    ),
    "refund above order amount": (
        refund(9000),
        DecisionDocument(
            outcome="deny", reasons=("refund exceeds the order amount (9000 > 8000)",)
        ),
    ),
    "refund of zero": (
        refund(0),
        DecisionDocument(outcome="deny", reasons=("refund amount must be positive, got 0",)),
    ),
    "refund of a string": (
        refund("50"),
        DecisionDocument(outcome="deny", reasons=("refund amount must be a number",)),
    ),
    "refund of unknown order": (
        refund(50, None),
        DecisionDocument(
            outcome="deny", reasons=("unknown order 'o1'; refund only an existing order",)
        ),
    ),
    "refund of other tenant's order": (
        refund(50, {**ORDER, "tenant": "t2"}),
        DecisionDocument(
            outcome="deny",
            reasons=("order 'o1' belongs to another tenant; refund only your own tenant's orders",),
        ),
    ),
    "refund above other tenant's order amount": (
        refund(9000, {**ORDER, "tenant": "t2"}),
        DecisionDocument(
            outcome="deny",
            reasons=("order 'o1' belongs to another tenant; refund only your own tenant's orders",),
        ),
    ),
    "charge is held": (
        charge(20),
        DecisionDocument(
            outcome="hold",
            reasons=("card charges always need a supervisor's approval",),
            obligations=SUPERVISOR,
        ),
    ),
    "charge of other tenant's customer": (
        charge(20, {"id": "c1", "tenant": "t2"}),
        DecisionDocument(
            outcome="deny",
            reasons=(
                "customer 'c1' belongs to another tenant; charge only your own tenant's customers",
            ),
        ),
    ),
    "charge of unknown customer": (
        charge(20, None),
        DecisionDocument(
            outcome="deny",
            reasons=("unknown customer: no customer matches this charge; check the customer id",),
        ),
    ),
}


@pytest.fixture(scope="module")
def embedded(shipped_policies: Path) -> Iterator[RegoEngine]:
    engine = RegoEngine(shipped_policies)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def opa_engine(opa_server: OpaTestServer, shipped_policies: Path) -> Iterator[OpaServerEngine]:
    engine = OpaServerEngine(opa_server.url, shipped_policies, retries=0)
    yield engine
    engine.close()


@pytest.mark.parametrize("case", CASES)
def test_embedded_engine_decides_as_specified(
    case: str, embedded: RegoEngine, make_input: InputFactory
) -> None:
    (tool, args, facts), expected = CASES[case]
    assert embedded.evaluate(make_input(tool, args, facts)) == expected


@pytest.mark.parametrize("case", CASES)
def test_opa_engine_agrees_with_embedded_engine(
    case: str, embedded: RegoEngine, opa_engine: OpaServerEngine, make_input: InputFactory
) -> None:
    (tool, args, facts), expected = CASES[case]
    policy_input = make_input(tool, args, facts)
    assert opa_engine.evaluate(policy_input) == embedded.evaluate(policy_input) == expected


@pytest.mark.parametrize("case", CASES)
async def test_async_opa_engine_agrees_with_embedded_engine(
    case: str, embedded: RegoEngine, opa_engine: OpaServerEngine, make_input: InputFactory
) -> None:
    (tool, args, facts), expected = CASES[case]
    policy_input = make_input(tool, args, facts)
    assert await opa_engine.aevaluate(policy_input) == await embedded.aevaluate(policy_input)
    assert await embedded.aevaluate(policy_input) == expected


def test_every_deny_reason_is_reported_sorted(
    embedded: RegoEngine, make_input: InputFactory
) -> None:
    tool, args, facts = refund(-12000, {**ORDER, "tenant": "t2"})
    document = embedded.evaluate(make_input(tool, args, facts))
    assert document.outcome == "deny"
    assert document.reasons == (
        "order 'o1' belongs to another tenant; refund only your own tenant's orders",
        "refund amount must be positive, got -12000",
    )


def test_input_without_tool_name_is_denied(embedded: RegoEngine) -> None:
    document = embedded.evaluate({"args": {}})
    assert document == DecisionDocument(outcome="deny", reasons=("policy input has no tool name",))


def test_engines_report_the_same_revision(
    embedded: RegoEngine, opa_engine: OpaServerEngine
) -> None:
    assert embedded.revision == opa_engine.revision


TICKET_EMAIL, CRM_EMAIL = "<EMAIL_bbbbbbbbbbbb>", "<EMAIL_aaaaaaaaaaaa>"
TOKENS = {
    TICKET_EMAIL: {
        "kind": "EMAIL",
        "tools": ["read_ticket"],
        "labels": ["untrusted"],
        "sources": {"untrusted": ["read_ticket"]},
    },
    CRM_EMAIL: {"kind": "EMAIL", "tools": ["crm_lookup"], "labels": [], "sources": {}},
}
UNTRUSTED_SESSION = {"id": "session-1", "sources": {"untrusted": ["read_ticket"]}}
MAIL_TO_TICKET = "send_email's 'to' came from untrusted content (read_ticket)"


def mail(body: str) -> dict[str, Any]:
    """Inputs of send_email to the ticket's address, carrying ``body``."""
    alone = {"typed": False}
    return {
        "args": {"to": TICKET_EMAIL, "subject": "Hi", "body": body},
        "tokens": TOKENS,
        "arg_sources": {
            "to": {**alone, "tokens": [TICKET_EMAIL]},
            "subject": {"typed": True, "tokens": []},
            "body": {**alone, "tokens": [CRM_EMAIL]}
            if body == CRM_EMAIL
            else {"typed": True, "tokens": []},
        },
        "session": UNTRUSTED_SESSION,
    }


EGRESS_CASES: dict[str, tuple[dict[str, Any], DecisionDocument]] = {
    "mail to a ticket address": (
        mail("On it."),
        DecisionDocument(
            outcome="hold",
            reasons=(f"{MAIL_TO_TICKET}; a human must confirm where this data goes",),
            obligations=SUPERVISOR,
        ),
    ),
    "customer data to a ticket address": (
        mail(CRM_EMAIL),
        DecisionDocument(
            outcome="deny",
            reasons=(
                f"send_email would send personal data from crm_lookup ({CRM_EMAIL}) to 'to',"
                " which came from untrusted content (read_ticket); personal data never goes"
                " where untrusted content points",
            ),
        ),
    ),
}


@pytest.mark.parametrize("case", EGRESS_CASES)
def test_egress_rules_decide_alike_on_both_engines_from_a_compiled_bundle(
    case: str, embedded: RegoEngine, opa_engine: OpaServerEngine, make_input: InputFactory
) -> None:
    """Reasons built from token provenance survive the compiled bundle (regopy quirks)."""
    fields, expected = EGRESS_CASES[case]
    rest = {key: value for key, value in fields.items() if key != "args"}
    policy_input = make_input("send_email", fields["args"], {}, **rest)
    assert embedded.evaluate(policy_input) == expected
    assert opa_engine.evaluate(policy_input) == expected
