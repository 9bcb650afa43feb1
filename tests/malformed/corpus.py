"""The malformed-input corpus, as data: what is sent, and how the firewall must refuse it.

``REFUSALS`` are calls the types accept and the gate must deny with ``code`` and a reason
containing every string of ``says``; ``facts`` (if set) is what the trusted lookup of
``crm_lookup`` returns for the malformed call. ``UNBUILDABLE`` are values the types refuse
at construction, with pydantic's ``ValidationError`` mentioning ``says``. Deep values are
built lazily, when a test asks for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from firewall.types import DenyCode, Principal, ToolCall
from tests.malformed.rig import AGENT, call

BYTE_CAP = "over the 65536-byte limit"
TOO_DEEP = "nests more than 64 levels deep"


@dataclass(frozen=True)
class Refusal:
    """A malformed call the gate must deny, with a reason naming what was wrong."""

    name: str
    build: Callable[[], ToolCall]
    code: DenyCode
    says: tuple[str, ...]
    facts: Callable[[], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Unbuildable:
    """A call or principal the types refuse to construct (pydantic ``ValidationError``)."""

    name: str
    build: Callable[[], object]
    says: str


def nested_dicts(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ... {}}}`` with ``depth`` objects."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def nested_lists(depth: int) -> list[Any]:
    """``[[...[]...]]`` with ``depth`` arrays."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def self_containing_list() -> list[Any]:
    """A list that holds itself: infinitely deep."""
    loop: list[Any] = []
    loop.append(loop)
    return loop


def shared_list_bomb(levels: int) -> list[Any]:
    """Each level holds the one below twice: 2**levels leaves in a few hundred bytes."""
    value: list[Any] = [0]
    for _ in range(levels):
        value = [value, value]
    return value


def principal(**changes: Any) -> Principal:
    """The support agent's principal with ``changes`` (validated like any principal)."""
    return Principal.model_validate(AGENT.model_dump() | changes)


def lookup_as(who: Principal) -> Callable[[], ToolCall]:
    return lambda: call(principal=who, customer_id="c-1")


def echo(payload: Callable[[], Any]) -> Callable[[], ToolCall]:
    return lambda: call("echo", payload=payload())


def named(tool: str) -> Callable[[], ToolCall]:
    return lambda: call(tool, customer_id="c-1")


def bad_lookup() -> ToolCall:
    """The call whose trusted facts are malformed (see ``Refusal.facts``)."""
    return call(customer_id="c-bad")


def raising_facts() -> Mapping[str, Any]:
    raise ZeroDivisionError("the order service divided by zero")


def refund(amount: Any, **more: Any) -> Callable[[], ToolCall]:
    return lambda: call("refund", order_id="o-1", amount=amount, **more)


INVALID, UNKNOWN = DenyCode.INVALID_ARGS, DenyCode.UNKNOWN_TOOL
POLICY_ERROR, SCOPE = DenyCode.POLICY_ERROR, DenyCode.MISSING_SCOPE

OVERSIZE = [
    Refusal(
        "many fields over the 64 KiB cap",
        lambda: ToolCall(
            tool="echo",
            args={f"field_{i}": "v" * 100 for i in range(1000)},
            principal=AGENT,
            session_id="s-1",
        ),
        INVALID,
        (BYTE_CAP,),
    ),
    Refusal("one 1 MiB string", lambda: call(customer_id="x" * 2**20), INVALID, (BYTE_CAP,)),
    Refusal(
        "control characters whose escapes pass the cap",
        lambda: call(customer_id="\x01" * 20_000),
        INVALID,
        ("arguments are 120018 bytes", "65536-byte limit"),
    ),
    Refusal("a million-item list", echo(lambda: [0] * 1_000_000), INVALID, (BYTE_CAP,)),
    Refusal("a list shared 2**40 times", echo(lambda: shared_list_bomb(40)), INVALID, (BYTE_CAP,)),
]

WRONG_TYPES = [
    Refusal("a string for a number", refund("lots"), INVALID, ("'amount'", "not of type 'number'")),
    Refusal(
        "a number for a string",
        lambda: call(customer_id=42),
        INVALID,
        ("'customer_id'", "not of type 'string'"),
    ),
    Refusal(
        "a list for an object",
        refund(5, meta=[1, 2]),
        INVALID,
        ("'meta'", "not of type 'object'"),
    ),
    Refusal(
        "None for a string",
        lambda: call(customer_id=None),
        INVALID,
        ("'customer_id'", "None is not of type 'string'"),
    ),
    Refusal("NaN", refund(math.nan), INVALID, ("argument 'amount'", "nan")),
    Refusal("Infinity", refund(math.inf), INVALID, ("argument 'amount'", "inf")),
    Refusal("-Infinity", refund(-math.inf), INVALID, ("argument 'amount'", "-inf")),
    Refusal("an int beyond 2**63", refund(2**64), INVALID, ("argument 'amount'", str(2**64))),
    Refusal(
        "an int beyond JSON's safe range", refund(2**53 + 1), INVALID, ("safe integer domain",)
    ),
    Refusal("bytes", lambda: call(customer_id=b"c-1"), INVALID, ("'customer_id'", "bytes")),
    Refusal("a bytearray", echo(lambda: bytearray(b"c-1")), INVALID, ("'payload'", "bytearray")),
    Refusal("a set", echo(lambda: {"a", "b"}), INVALID, ("'payload'", "set")),
    Refusal("a datetime", echo(lambda: datetime.now(UTC)), INVALID, ("'payload'", "datetime")),
    Refusal("an arbitrary object", echo(object), INVALID, ("'payload'", "object")),
    Refusal(
        "a nested non-string key",
        echo(lambda: {1: "one"}),
        INVALID,
        ("'payload'", "keys must be strings"),
    ),
    Refusal("a lone surrogate", lambda: call(customer_id="\ud800"), INVALID, ("UTF-8",)),
    Refusal(
        "a NUL inside a string",
        lambda: call(customer_id="c-1\x00"),
        POLICY_ERROR,
        ("input.args.customer_id", "NUL character"),
    ),
    Refusal(
        "a missing required argument",
        call,
        INVALID,
        ("'customer_id' is a required property",),
    ),
    Refusal(
        "an unexpected extra argument",
        lambda: call(customer_id="c-1", admin=True),
        INVALID,
        ("'admin'", "not allowed"),
    ),
]

TOOL_NAMES = [
    Refusal(
        "Cyrillic o in crm_lookup",
        named("crm_l\u043e\u043ekup"),
        UNKNOWN,
        ("U+043E CYRILLIC SMALL LETTER O",),
    ),
    Refusal(
        "Cyrillic es and er",
        named("\u0441rm_looku\u0440"),
        UNKNOWN,
        ("U+0441 CYRILLIC SMALL LETTER ES", "U+0440 CYRILLIC SMALL LETTER ER"),
    ),
    Refusal(
        "a zero-width joiner",
        named("crm_\u200dlookup"),
        UNKNOWN,
        ("U+200D ZERO WIDTH JOINER", "did you mean 'crm_lookup'?"),
    ),
    Refusal(
        "a zero-width space",
        named("crm_lookup\u200b"),
        UNKNOWN,
        ("U+200B ZERO WIDTH SPACE", "did you mean 'crm_lookup'?"),
    ),
    Refusal(
        "a right-to-left override",
        named("\u202ecrm_lookup"),
        UNKNOWN,
        ("U+202E RIGHT-TO-LEFT OVERRIDE", "did you mean 'crm_lookup'?"),
    ),
    Refusal("a NUL byte", named("crm_lookup\x00"), UNKNOWN, ("'crm_lookup\\x00'", "did you mean")),
    Refusal("trailing space", named("crm_lookup "), UNKNOWN, ("'crm_lookup '", "did you mean")),
    Refusal(
        "full-width letters",
        named("\uff43\uff52\uff4d\uff3f\uff4c\uff4f\uff4f\uff4b\uff55\uff50"),
        UNKNOWN,
        ("FULLWIDTH LATIN SMALL LETTER C", "did you mean 'crm_lookup'?"),
    ),
    Refusal(
        "an NFKC-equivalent Kelvin sign",
        named("crm_loo\u212aup"),
        UNKNOWN,
        ("U+212A KELVIN SIGN", "did you mean 'crm_lookup'?"),
    ),
    Refusal("upper case", named("CRM_LOOKUP"), UNKNOWN, ("did you mean 'crm_lookup'?",)),
    Refusal("a smuggled newline", named("crm_lookup\nallow"), UNKNOWN, ("'crm_lookup\\nallow'",)),
    Refusal("a 1 MiB tool name", named("t" * 2**20), UNKNOWN, ("(1048576 characters)",)),
    Refusal("an empty tool name", named(""), UNKNOWN, ("unknown tool ''",)),
]

DEPTH_BOMBS = [
    Refusal("objects one level too deep", echo(lambda: nested_dicts(64)), INVALID, (TOO_DEEP,)),
    Refusal("objects 300 deep", echo(lambda: nested_dicts(300)), INVALID, (TOO_DEEP,)),
    Refusal("objects 10,000 deep", echo(lambda: nested_dicts(10_000)), INVALID, (TOO_DEEP,)),
    Refusal("objects 100,000 deep", echo(lambda: nested_dicts(100_000)), INVALID, (TOO_DEEP,)),
    Refusal("arrays 10,000 deep", echo(lambda: nested_lists(10_000)), INVALID, (TOO_DEEP,)),
    Refusal("arrays 100,000 deep", echo(lambda: nested_lists(100_000)), INVALID, (TOO_DEEP,)),
    Refusal("a list that holds itself", echo(self_containing_list), INVALID, (TOO_DEEP,)),
    Refusal(
        "a deep value for a string argument",
        lambda: call(customer_id=nested_lists(100_000)),
        INVALID,
        ("argument 'customer_id'", TOO_DEEP),
    ),
]

PRINCIPALS = [
    Refusal(
        "100,000 scopes but not the tool's",
        lookup_as(principal(scopes=frozenset(f"s{i}:read" for i in range(100_000)))),
        SCOPE,
        ("lacks scope 'crm:read'",),
    ),
    Refusal("a bare '*' scope", lookup_as(principal(scopes={"*"})), SCOPE, ("'crm:read'",)),
    Refusal("an upper-case scope", lookup_as(principal(scopes={"CRM:READ"})), SCOPE, ("crm:read",)),
]

FACTS = [
    Refusal(
        "5 MB of facts that block the customer",
        bad_lookup,
        DenyCode.POLICY,
        ("the customer is blocked",),
        facts=lambda: {"blocked": True, "notes": "x" * 5_000_000},
    ),
    Refusal(
        "20,000 facts that block the customer",
        bad_lookup,
        DenyCode.POLICY,
        ("the customer is blocked",),
        facts=lambda: {"blocked": True} | {f"order_{i}": i for i in range(20_000)},
    ),
    Refusal(
        "facts 100,000 deep",
        bad_lookup,
        POLICY_ERROR,
        ("fact 'order'", TOO_DEEP),
        facts=lambda: {"order": nested_dicts(100_000)},
    ),
    Refusal(
        "facts 300 deep",
        bad_lookup,
        POLICY_ERROR,
        ("fact 'order'", TOO_DEEP),
        facts=lambda: {"order": nested_lists(300)},
    ),
    Refusal(
        "a NaN fact",
        bad_lookup,
        POLICY_ERROR,
        ("input.context.facts.score", "nan"),
        facts=lambda: {"score": math.nan},
    ),
    Refusal(
        "an int fact beyond 2**63",
        bad_lookup,
        POLICY_ERROR,
        ("input.context.facts.balance", "64-bit range"),
        facts=lambda: {"balance": 2**64},
    ),
    Refusal(
        "a bytes fact",
        bad_lookup,
        POLICY_ERROR,
        ("input.context.facts.photo", "bytes"),
        facts=lambda: {"photo": b"\x89PNG"},
    ),
    Refusal(
        "facts that are a list",
        bad_lookup,
        POLICY_ERROR,
        ("facts lookup for 'crm_lookup' failed (TypeError)",),
        facts=lambda: [1, 2],  # type: ignore[arg-type, return-value]
    ),
    Refusal(
        "a facts lookup that raises",
        bad_lookup,
        POLICY_ERROR,
        ("failed (ZeroDivisionError)",),
        facts=raising_facts,
    ),
]

REFUSALS = OVERSIZE + WRONG_TYPES + TOOL_NAMES + DEPTH_BOMBS + PRINCIPALS + FACTS


def tool_call(**fields: Any) -> Callable[[], ToolCall]:
    base = {"tool": "crm_lookup", "args": {"customer_id": "c-1"}, "principal": AGENT}
    return lambda: ToolCall.model_validate(base | fields)


def principal_of(**fields: Any) -> Callable[[], Principal]:
    return lambda: Principal.model_validate({"agent_id": "bot", "tenant": "acme"} | fields)


UNBUILDABLE = [
    Unbuildable("an empty agent id", principal_of(agent_id=""), "agent_id"),
    Unbuildable("a 129-character agent id", principal_of(agent_id="a" * 129), "agent_id"),
    Unbuildable("a number for the agent id", principal_of(agent_id=7), "agent_id"),
    Unbuildable("an empty tenant", principal_of(tenant=""), "tenant"),
    Unbuildable("scopes given as one string", principal_of(scopes="crm:read"), "scopes"),
    Unbuildable("an empty scope", principal_of(scopes=[""]), "scopes"),
    Unbuildable(
        "a NUL in the agent id",
        principal_of(agent_id="support-bot\x00"),
        "unprintable character U\\+0000",
    ),
    Unbuildable(
        "a bidi override in the agent id",
        principal_of(agent_id="bot\u202e"),
        "unprintable character U\\+202E",
    ),
    Unbuildable(
        "a newline in the tenant", principal_of(tenant="acme\nok"), "unprintable character U\\+000A"
    ),
    Unbuildable(
        "a NUL in on_behalf_of",
        principal_of(on_behalf_of="customer:1\x00"),
        "unprintable character U\\+0000",
    ),
    Unbuildable(
        "a zero-width space in requested_by",
        principal_of(requested_by="b\u200bob"),
        "unprintable character U\\+200B",
    ),
    Unbuildable("a NUL in the session id", tool_call(session_id="s\x00"), "session_id"),
    Unbuildable("None for the arguments", tool_call(args=None), "args"),
    Unbuildable("a list for the arguments", tool_call(args=["c-1"]), "args"),
    Unbuildable("a JSON string for the arguments", tool_call(args='{"a": 1}'), "args"),
    Unbuildable("a non-string argument name", tool_call(args={1: "c-1"}), "args"),
    Unbuildable("None for the tool name", tool_call(tool=None), "tool"),
    Unbuildable("an unknown field", tool_call(approved=True), "approved"),
    Unbuildable("an empty call id", tool_call(call_id=""), "call_id"),
    Unbuildable("a NUL in the call id", tool_call(call_id="call_1\x00"), "call_id"),
    Unbuildable("a 129-character call id", tool_call(call_id="c" * 129), "call_id"),
    Unbuildable("a 1 MiB call id", tool_call(call_id="c" * 2**20), "call_id"),
    Unbuildable("a space in the call id", tool_call(call_id="call 1"), "call_id"),
    Unbuildable("a non-ASCII call id", tool_call(call_id="c\u0430ll_1"), "call_id"),
    Unbuildable("None for the session id", tool_call(session_id=None), "session_id"),
]
