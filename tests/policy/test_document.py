"""Parsing the decision document: valid shapes pass, anything else names what is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from firewall.errors import MalformedDecisionError, PolicyError
from firewall.policy.document import UNDEFINED, DecisionDocument, parse_decision
from firewall.types import Obligations


def test_allow_without_obligations_gets_default_obligations() -> None:
    document = parse_decision({"outcome": "allow", "reasons": []})
    assert document == DecisionDocument(outcome="allow", reasons=(), obligations=Obligations())


def test_hold_keeps_reasons_in_order_and_its_obligations() -> None:
    document = parse_decision(
        {
            "outcome": "hold",
            "reasons": ["second", "first"],
            "obligations": {
                "approvers": "supervisors",
                "quorum": 2,
                "ttl_s": 900,
                "redact": ["email"],
            },
        }
    )
    assert document.reasons == ("second", "first")
    assert document.obligations == Obligations(
        approvers="supervisors", quorum=2, ttl_s=900, redact=("email",)
    )


def test_document_is_frozen() -> None:
    document = parse_decision({"outcome": "deny", "reasons": ["no"]})
    with pytest.raises(ValidationError):
        document.outcome = "allow"  # type: ignore[misc]


def test_undefined_result_names_the_missing_decision() -> None:
    with pytest.raises(MalformedDecisionError, match=r"no decision at data\.firewall\.decision"):
        parse_decision(UNDEFINED)


def test_malformed_decision_is_a_policy_error() -> None:
    """Callers that catch PolicyError also catch malformed documents (and deny)."""
    with pytest.raises(PolicyError):
        parse_decision(None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "decision: must be an object, got null"),
        (["allow"], "decision: must be an object, got array"),
        ("allow", "decision: must be an object, got string"),
        (1, "decision: must be an object, got number"),
    ],
)
def test_non_object_decision_says_what_it_got(value: Any, message: str) -> None:
    with pytest.raises(MalformedDecisionError) as caught:
        parse_decision(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"reasons": []}, "decision.outcome: is missing"),
        (
            {"outcome": "maybe", "reasons": []},
            "decision.outcome: must be allow, deny or hold, got 'maybe'",
        ),
        ({"outcome": 1, "reasons": []}, "decision.outcome: must be allow, deny or hold, got 1"),
        ({"outcome": "deny"}, "decision.reasons: is missing"),
        ({"outcome": "deny", "reasons": "no"}, "decision.reasons: must be an array, got 'no'"),
        ({"outcome": "deny", "reasons": ["ok", 7]}, "decision.reasons[1]: must be a string, got 7"),
        (
            {"outcome": "hold", "reasons": [], "obligations": []},
            "decision.obligations: must be an object, got []",
        ),
        (
            {"outcome": "hold", "reasons": [], "obligations": {"quorum": 0}},
            "decision.obligations.quorum: input should be greater than or equal to 1, got 0",
        ),
        (
            {"outcome": "hold", "reasons": [], "obligations": {"quorum": 1.5}},
            "decision.obligations.quorum: must be an integer, got 1.5",
        ),
        (
            {"outcome": "hold", "reasons": [], "obligations": {"approvers": 3}},
            "decision.obligations.approvers: must be a string, got 3",
        ),
        (
            {"outcome": "hold", "reasons": [], "obligations": {"ttl_s": 0}},
            "decision.obligations.ttl_s: input should be greater than 0, got 0",
        ),
        (
            {"outcome": "hold", "reasons": [], "obligations": {"budget": 5}},
            "decision.obligations.budget: is not a known field",
        ),
        ({"outcome": "allow", "reasons": [], "why": "x"}, "decision.why: is not a known field"),
    ],
)
def test_each_malformed_field_is_named(value: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedDecisionError) as caught:
        parse_decision(value)
    assert str(caught.value) == message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(MalformedDecisionError) as caught:
        parse_decision({"outcome": "maybe"})
    assert str(caught.value).split("; ") == [
        "decision.outcome: must be allow, deny or hold, got 'maybe'",
        "decision.reasons: is missing",
    ]


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(MalformedDecisionError) as caught:
        parse_decision({"outcome": "x" * 500, "reasons": []})
    assert len(str(caught.value)) < 140
    assert str(caught.value).endswith("...")
