"""What the property tests draw: calls, steps, and the policies under test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hypothesis import strategies as st

from firewall.policy.document import DecisionDocument
from firewall.types import Principal, Risk, ToolCall, ToolSpec
from tests.gate_helpers import object_schema

Outcome = Literal["allow", "deny", "hold"]
SHIPPED_POLICY = Path(__file__).parents[2] / "policies" / "rego"
COVERING = {
    "crm_lookup": {"crm:read", "crm:*"},
    "echo": {"crm:read", "crm:*"},
    "refund": {"refunds:write", "refunds:*"},
    "read_ticket": {"tickets:read", "tickets:*"},
    "issue_refund": {"refunds:write", "refunds:*"},
    "charge_card": {"payments:write", "payments:*"},
}
SHIPPED_RECORDS: dict[str, dict[str, dict[str, Any]]] = {
    "customer": {"c-1": {"tenant": "acme"}, "c-2": {"tenant": "globex"}},
    "order": {
        "o-1": {"tenant": "acme", "amount": 5_000},
        "o-2": {"tenant": "globex", "amount": 80},
    },
    "ticket": {"t-1": {"tenant": "acme"}},
}
SHIPPED_TOOLS = (
    ToolSpec(
        name="crm_lookup",
        scope="crm:read",
        personal_args=("customer_id",),
        args_schema=object_schema(customer_id="string"),
    ),
    ToolSpec(
        name="read_ticket",
        scope="tickets:read",
        output_labels=("untrusted",),
        args_schema=object_schema(ticket_id="string"),
    ),
    ToolSpec(
        name="issue_refund",
        scope="refunds:write",
        risk=Risk.HIGH,
        money_arg="amount",
        args_schema=object_schema(order_id="string", amount="number"),
    ),
    ToolSpec(
        name="charge_card",
        scope="payments:write",
        risk=Risk.CRITICAL,
        money_arg="amount",
        args_schema=object_schema(customer_id="string", amount="number"),
    ),
)


class ScriptedPolicy:
    """The policy under test: answers every call with the outcome drawn for it."""

    revision = "sha256:" + "0" * 64

    def __init__(self) -> None:
        self.answer: Outcome = "deny"
        self.asked = 0

    def evaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        self.asked += 1
        return DecisionDocument(outcome=self.answer, reasons=(f"scripted {self.answer}",))

    async def aevaluate(self, policy_input: Mapping[str, Any]) -> DecisionDocument:
        return self.evaluate(policy_input)

    def close(self) -> None:
        """Nothing to release."""


leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_like = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
amounts = st.integers(min_value=-10, max_value=20_000) | st.floats(allow_nan=False)
well_formed = {
    "crm_lookup": st.fixed_dictionaries({"customer_id": st.sampled_from(["c-1", "c-2"])}),
    "echo": st.dictionaries(st.text(max_size=6), json_like, max_size=3),
    "refund": st.fixed_dictionaries({"order_id": st.just("o-1"), "amount": amounts}),
    "read_ticket": st.fixed_dictionaries({"ticket_id": st.sampled_from(["t-1", "t-2"])}),
    "issue_refund": st.fixed_dictionaries(
        {"order_id": st.sampled_from(["o-1", "o-2", "o-404"]), "amount": amounts}
    ),
    "charge_card": st.fixed_dictionaries(
        {"customer_id": st.sampled_from(["c-1", "c-2"]), "amount": amounts}
    ),
}
covering_scopes = st.sampled_from(sorted(set().union(*COVERING.values())))
odd_scopes = st.sampled_from(["*", "CRM:READ", "crm:write"])  # "" is refused at construction
principals = st.builds(
    Principal,
    agent_id=st.from_regex(r"[!-~]{1,12}", fullmatch=True)  # look-alikes are refused
    | st.sampled_from(["M\u00fcller", "\u0410\u043b\u0435\u043a\u0441", "\u7530\u4e2d"]),
    tenant=st.sampled_from(["acme", "globex"]),
    scopes=st.frozensets(covering_scopes, max_size=4) | st.frozensets(odd_scopes, max_size=2),
    on_behalf_of=st.sampled_from([None, "customer:c-1", "customer:c-2"]),
    requested_by=st.just("bob"),
)


@st.composite
def tool_calls(draw: st.DrawFn, names: tuple[str, ...]) -> ToolCall:
    """A call of a known tool (mostly well-formed arguments) or, less often, of a made-up name."""
    made_up, random_args = draw(st.integers(0, 3)) == 0, draw(st.integers(0, 3)) == 0
    tool = draw(st.text(max_size=12) if made_up else st.sampled_from(names))
    arbitrary = st.dictionaries(st.text(max_size=6), json_like, max_size=3)
    args = draw(arbitrary if random_args else well_formed.get(tool, arbitrary))
    session = draw(st.sampled_from(["s1", "s2"]))
    principal = draw(principals)
    if tool in COVERING and draw(st.integers(0, 3)) > 0:  # mostly a principal the tool admits
        scopes = principal.scopes | {draw(st.sampled_from(sorted(COVERING[tool])))}
        principal = principal.model_copy(update={"scopes": scopes})
    return ToolCall(tool=tool, args=args, principal=principal, session_id=session)


@dataclass(frozen=True)
class Step:
    call: ToolCall
    answer: Outcome
    verdict: Literal["approve", "deny"]


def steps(names: tuple[str, ...]) -> st.SearchStrategy[list[Step]]:
    step = st.builds(
        Step,
        call=tool_calls(names),
        answer=st.sampled_from(["allow", "deny", "hold"]),
        verdict=st.sampled_from(["approve", "deny"]),
    )
    return st.lists(step, min_size=1, max_size=3)


def shipped_facts(kind: str, id_arg: str) -> Callable[[ToolCall], Mapping[str, Any]]:
    """The trusted lookup of the demo backends: the ``kind`` record ``id_arg`` names, if any."""

    def lookup(call: ToolCall) -> Mapping[str, Any]:
        key = call.args.get(id_arg)
        record = SHIPPED_RECORDS[kind].get(key) if isinstance(key, str) else None
        return {kind: {"id": key, **record}} if record else {}

    return lookup


SHIPPED_FACTS = {
    "crm_lookup": shipped_facts("customer", "customer_id"),
    "charge_card": shipped_facts("customer", "customer_id"),
    "issue_refund": shipped_facts("order", "order_id"),
    "read_ticket": shipped_facts("ticket", "ticket_id"),
}
