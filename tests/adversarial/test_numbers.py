"""Class 1 of issue 12: the policy decides on exactly the numbers (and arguments) the tool gets.

Written as an attacker would try it: calls through the public gate (``Firewall.run``) with
the shipped policies, and through LangChain's ``create_agent``; nothing internal is used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firewall.gate import Executed
from firewall.policy.opa_server import OpaServerEngine
from firewall.testing.opa_server import OpaTestServer
from firewall.types import Deny, DenyCode, Hold, ToolSpec
from tests.adversarial.numbers_rig import (
    PROBE,
    REFUND,
    REFUND_SCHEMA,
    Target,
    build_target,
    echoed_args,
    same_json,
    write_echo_policy,
)


@pytest.fixture
def shop(tmp_path: Path) -> Target:
    """The shipped policies: refunds run up to 100, held above, two approvers above 5,000."""
    return build_target(tmp_path)


def refused_for(result: Any, argument: str) -> bool:
    """A deny of bad arguments whose reason names ``argument``."""
    return (
        isinstance(result, Deny)
        and result.code is DenyCode.INVALID_ARGS
        and any(f"'{argument}'" in reason for reason in result.reasons)
    )


# -- money: the amount the policy compares is the amount the tool refunds ----------------


@pytest.mark.parametrize(
    ("order_id", "amount"),
    [
        ("o-5000", 100.0000004),  # rounded to 100 it would run without a hold
        ("o-5000", 100.00000000000001),  # 17 significant digits: a double above 100
        ("o-5000", 100.001),  # a tenth of a cent
        ("o-5000", 100.0000000001),
        ("o-80", 80.0000001),  # a hair above the order's amount
        ("o-80", 80.00000000000001),
        ("o-9000", 5000.0000004),  # rounded to 5000 it would need one approver, not two
        ("o-5000", 0.001),  # rounded it would be zero, or a whole cent in the budget
        ("o-5000", 1e-7),
        ("o-5000", 5e-324),  # the smallest double
    ],
)
def test_an_amount_finer_than_cents_is_refused_naming_the_amount(
    shop: Target, order_id: str, amount: float
) -> None:
    result = shop.run("issue_refund", order_id=order_id, amount=amount)
    assert refused_for(result, "amount"), result
    assert shop.received == []


@pytest.mark.parametrize(
    "written", ["100", "100.0", "1e2", "1E+2", "99.99", "0.01", "100.00000000000000001"]
)
def test_an_amount_within_the_auto_approve_limit_runs_as_given(shop: Target, written: str) -> None:
    """1e2, 100.0 and 100 are one number; 100.00000000000000001 is 100.0 once JSON is read."""
    amount = json.loads(written)
    result = shop.run("issue_refund", order_id="o-5000", amount=amount)
    assert isinstance(result, Executed), result
    assert shop.received == [{"order_id": "o-5000", "amount": amount}]


@pytest.mark.parametrize(
    ("order_id", "amount", "quorum"),
    [("o-5000", 100.01, 1), ("o-9000", 5000.01, 2), ("o-9000", 5000, 1)],
)
def test_an_amount_one_cent_over_a_threshold_gets_the_hold_it_asks_for(
    shop: Target, order_id: str, amount: float, quorum: int
) -> None:
    result = shop.run("issue_refund", order_id=order_id, amount=amount)
    assert isinstance(result, Hold), result
    assert result.quorum == quorum
    assert shop.received == []


def test_an_amount_one_cent_over_the_order_is_denied(shop: Target) -> None:
    result = shop.run("issue_refund", order_id="o-80", amount=80.01)
    assert isinstance(result, Deny)
    assert result.code is DenyCode.POLICY
    assert shop.received == []


@pytest.mark.parametrize(
    "amount",
    ["100", "100.0000004", "1e2", True, False, None, [100], {"value": 100}, 10**20, -(10**20)],
)
def test_an_amount_that_is_not_a_plain_number_is_refused_naming_it(
    shop: Target, amount: Any
) -> None:
    """Strings, booleans, containers and integers beyond 2**53 are not amounts of money."""
    result = shop.run("issue_refund", order_id="o-5000", amount=amount)
    assert refused_for(result, "amount"), result
    assert shop.received == []


@pytest.mark.parametrize("amount", [-0.0, 0, -0.01, -100.0000004])
def test_a_zero_or_negative_amount_does_not_run(shop: Target, amount: float) -> None:
    result = shop.run("issue_refund", order_id="o-5000", amount=amount)
    assert isinstance(result, Deny), result
    assert shop.received == []


def test_an_amount_in_a_coarser_declared_precision_is_refused_below_it(tmp_path: Path) -> None:
    """A tool whose amounts are whole units (money_precision = 0) refuses cents."""
    whole = REFUND.model_copy(update={"money_precision": 0})
    target = build_target(tmp_path, tools=(whole,))
    assert refused_for(target.run("issue_refund", order_id="o-5000", amount=99.5), "amount")
    assert isinstance(target.run("issue_refund", order_id="o-5000", amount=99), Executed)


# -- every other number: the engine holds exactly what the tool gets, or the call is refused


THRESHOLD_POLICY = """
package firewall

import rego.v1

# Hold any call whose nested level exceeds 100 (or is above zero, for "tiny").
default decision := {"outcome": "allow", "reasons": []}

decision := {"outcome": "hold", "reasons": ["above the limit"]} if {
    some level in input.args.config.levels
    level > 100
}

decision := {"outcome": "hold", "reasons": ["above zero"]} if {
    input.args.config.tiny > 0
}
"""
CONFIGURE = ToolSpec(
    name="configure",
    scope="crm:read",
    args_schema={
        "type": "object",
        "properties": {"config": {"type": "object"}},
        "required": ["config"],
    },
)


@pytest.fixture(params=["embedded", "opa"])
def thresholds(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """The threshold policy on the embedded engine and on an OPA server (loopback)."""
    policy_dir = tmp_path / "thresholds"
    policy_dir.mkdir()
    (policy_dir / "thresholds.rego").write_text(THRESHOLD_POLICY, encoding="utf-8")
    if request.param == "embedded":
        yield build_target(tmp_path, policy_dir=policy_dir, tools=(CONFIGURE,))
        return
    with OpaTestServer() as opa:
        engine = OpaServerEngine(opa.url, policy_dir, upload_policies=True)
        yield build_target(tmp_path, policy_dir=policy_dir, engine=engine, tools=(CONFIGURE,))


@pytest.mark.parametrize(
    "config",
    [
        {"levels": [1, 100.0000004]},
        {"levels": [100.000000001]},
        {"levels": [100.0000000000001]},  # 16 significant digits
        {"tiny": 1e-7},
        {"tiny": 2.5e-10},
        {"tiny": 1e-300},
    ],
)
def test_a_nested_number_just_over_a_threshold_is_held_not_rounded_away(
    thresholds: Target, config: dict[str, Any]
) -> None:
    result = thresholds.run("configure", config=config)
    assert isinstance(result, Hold), result
    assert thresholds.received == []


@pytest.mark.parametrize(
    "config",
    [
        {"levels": [0.30000000000000004]},  # 17 significant digits
        {"levels": [100.00000000000003]},
        {"levels": [1.7976931348623157e308]},  # the largest double
        {"tiny": 5e-324},  # subnormal
        {"tiny": 2.2250738585072014e-308},  # the smallest normal double, 17 digits
        {"deep": [[{"x": 1.1 * 3}]]},  # 3.3000000000000003
    ],
)
def test_a_number_the_engine_cannot_hold_exactly_is_refused_naming_its_argument(
    thresholds: Target, config: dict[str, Any]
) -> None:
    result = thresholds.run("configure", config=config)
    assert refused_for(result, "config"), result
    assert thresholds.received == []


# -- arguments the tool's spec does not declare never reach the tool -----------------------


def test_an_undeclared_argument_beside_a_declared_amount_is_refused(shop: Target) -> None:
    result = shop.run("issue_refund", order_id="o-5000", amount=50, amount_cents=900000)
    assert refused_for(result, "amount_cents"), result
    assert shop.received == []


@pytest.mark.parametrize("extra", ["Amount", "amount ", "amount\u200b", "__proto__", "kwargs"])
def test_look_alike_argument_names_are_undeclared_too(shop: Target, extra: str) -> None:
    result = shop.run("issue_refund", order_id="o-5000", amount=50, **{extra: 900000})
    assert isinstance(result, Deny)
    assert result.code is DenyCode.INVALID_ARGS
    assert shop.received == []


def test_an_undeclared_key_in_a_declared_nested_object_is_refused(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {
            "order": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "amount": {"type": "number"}},
            },
            "lines": {
                "type": "array",
                "items": {"type": "object", "properties": {"sku": {"type": "string"}}},
            },
        },
    }
    spec = ToolSpec(name="nested", scope="crm:read", args_schema=schema)
    target = build_target(tmp_path, policy_dir=write_echo_policy(tmp_path / "echo"), tools=(spec,))
    ok = target.run("nested", order={"id": "o", "amount": 5}, lines=[{"sku": "a"}])
    assert isinstance(ok, Executed)
    sneaky = target.run("nested", order={"id": "o", "amount": 5, "amount_cents": 9})
    assert refused_for(sneaky, "amount_cents"), sneaky
    in_list = target.run("nested", lines=[{"sku": "a", "price": 0}])
    assert refused_for(in_list, "price"), in_list
    assert len(target.received) == 1


def test_a_tool_without_an_args_schema_refuses_arguments(tmp_path: Path) -> None:
    """Nothing declared means nothing is: arguments are refused, naming each and the fix."""
    bare = ToolSpec(name="probe", scope="crm:read")
    target = build_target(tmp_path, policy_dir=write_echo_policy(tmp_path / "echo"), tools=(bare,))
    result = target.run("probe", amount=5)
    assert refused_for(result, "amount"), result
    assert "args_schema" in result.message()
    assert isinstance(target.run("probe"), Executed)


def test_a_schema_that_admits_other_arguments_explicitly_lets_them_through(
    tmp_path: Path,
) -> None:
    open_refund = REFUND.model_copy(
        update={"args_schema": {**REFUND_SCHEMA, "additionalProperties": True}}
    )
    target = build_target(tmp_path, tools=(open_refund,))
    result = target.run("issue_refund", order_id="o-5000", amount=50, note="x")
    assert isinstance(result, Executed)
    assert target.received == [{"order_id": "o-5000", "amount": 50, "note": "x"}]


# -- the property: every number the tool receives is the number the policy held -----------

EXTREMES = (
    0.1,
    -0.0,
    1e-7,
    2.5e-10,
    100.0000004,
    5000.0000004,
    0.30000000000000004,
    1 / 3,
    1e16,
    1e22,
    1e308,
    -1e308,
    1.7976931348623157e308,
    2.2250738585072014e-308,
    2.225073858507202e-308,
    5e-324,
    123456789.123456789,
    2**53 - 1,
    2**53,
    -(2**53) - 1,
    2**63 - 1,
    -(2**63),
    2**64,
)
scalars = (
    st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(EXTREMES)
    | st.booleans()
    | st.none()
    | st.text(st.characters(exclude_characters="\0"), max_size=3)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "x"]), inner, max_size=3)
    ),
    max_leaves=8,
)
arguments = st.dictionaries(st.sampled_from(["n", "m", "nested"]), json_values, max_size=3)


@pytest.fixture(scope="module", params=["embedded", "opa"])
def probe(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """An echoing policy on each engine, behind a tool that takes any argument."""
    tmp_path = tmp_path_factory.mktemp("probe")
    policy_dir = write_echo_policy(tmp_path / "echo")
    if request.param == "embedded":
        yield build_target(tmp_path, policy_dir=policy_dir, tools=(PROBE,))
        return
    with OpaTestServer() as opa:
        engine = OpaServerEngine(opa.url, policy_dir, upload_policies=True)
        yield build_target(tmp_path, policy_dir=policy_dir, engine=engine, tools=(PROBE,))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=arguments)
def test_every_number_the_tool_receives_is_the_number_the_policy_held(
    probe: Target, args: dict[str, Any]
) -> None:
    """Ints, floats (extremes too) anywhere in the arguments: held exactly, or refused."""
    probe.received.clear()
    result = probe.run("probe", **args)
    if isinstance(result, Executed):
        [received] = probe.received
        assert same_json(received, args)
        assert same_json(echoed_args(result), received), (echoed_args(result), received)
    else:
        assert isinstance(result, Deny)
        assert result.code is DenyCode.INVALID_ARGS, result
        assert any(refused_for(result, name) for name in args), result
        assert probe.received == []
