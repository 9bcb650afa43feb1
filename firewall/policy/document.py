"""The decision document a policy returns at ``data.firewall.decision``, validated.

Anything other than a well-formed document raises :class:`MalformedDecisionError`
naming what was missing or wrong, so the caller can deny with that reason.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from firewall.errors import MalformedDecisionError
from firewall.types import Frozen, Obligations

DECISION_PATH: Final = "data.firewall.decision"
NO_DECISION: Final = f"policy returned no decision at {DECISION_PATH}"

_MESSAGES: Final = {
    "missing": "is missing",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "tuple_type": "must be an array",
    "list_type": "must be an array",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "int_parsing": "must be an integer",
}


class _Undefined:
    """The policy produced no value (OPA's ``{}`` without ``result``)."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()


class DecisionDocument(Frozen):
    """What the policy decided, and what it asks of the firewall."""

    outcome: Literal["allow", "deny", "hold"]
    reasons: tuple[str, ...]
    obligations: Obligations = Obligations()


def parse_decision(value: Any) -> DecisionDocument:
    """Validate a policy result; ``UNDEFINED`` or anything malformed raises."""
    if value is UNDEFINED:
        raise MalformedDecisionError(NO_DECISION)
    if not isinstance(value, dict):
        raise MalformedDecisionError(f"decision: must be an object, got {_json_type(value)}")
    try:
        return DecisionDocument.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise MalformedDecisionError(problems) from exc


def checked_decision(answer: object) -> DecisionDocument:
    """An engine's answer, validated again: anything but a well-formed document raises.

    A :class:`PolicyEngine` outside this package may skip validation (``model_construct``)
    or return another object; such an answer must never pass as an allow.
    """
    if not isinstance(answer, DecisionDocument):
        raise MalformedDecisionError(
            f"decision: must be a decision document, got {type(answer).__name__}"
        )
    return parse_decision(dict(answer))


def _describe(error: ErrorDetails) -> str:
    where = _location(error["loc"])
    if where == "decision.outcome" and error["type"] != "missing":
        return f"{where}: must be allow, deny or hold, got {_short(error['input'])}"
    message = _MESSAGES.get(error["type"]) or error["msg"][:1].lower() + error["msg"][1:]
    if error["type"] in {"missing", "extra_forbidden"}:
        return f"{where}: {message}"
    return f"{where}: {message}, got {_short(error['input'])}"


def _location(loc: tuple[int | str, ...]) -> str:
    text = "decision"
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    names = {list: "array", tuple: "array", str: "string", bool: "boolean", type(None): "null"}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return names.get(type(value), type(value).__name__)
