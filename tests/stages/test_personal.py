"""The personal-data stage in the gate: foreign tokens refused and audited, the tool gets values."""

from __future__ import annotations

from pathlib import Path

from firewall.gate import Executed
from firewall.types import Deny, DenyCode, ToolCall, ToolSpec
from tests.gate_helpers import AGENT, TOOLS, make_rig


def _lookup(customer: str, session: str) -> ToolCall:
    return ToolCall(
        tool="lookup", args={"customer_id": customer}, principal=AGENT, session_id=session
    )


def test_a_token_from_the_same_session_reaches_the_tool_as_the_real_value(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    first = _lookup("c-1", "s-1")
    shown = rig.firewall.protect_output(first, {"email": "ada@example.com"})
    second = _lookup(shown["email"], "s-1")
    received: list[object] = []
    result = rig.firewall.run(second, lambda: received.append(rig.firewall.restore_args(second)))
    assert isinstance(result, Executed)
    assert received == [{"customer_id": "ada@example.com"}]
    audited = [r.args for r in rig.records(second.call_id) if r.event == "decision"]
    assert audited == [{"customer_id": shown["email"]}]


def test_a_foreign_token_is_denied_before_the_policy_and_audited(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    shown = rig.firewall.protect_output(_lookup("c-1", "s-1"), {"email": "ada@example.com"})
    foreign = _lookup(shown["email"], "s-2")
    result = rig.firewall.run(foreign, lambda: rig.ran.append("lookup"))
    assert isinstance(result, Deny)
    assert result.code is DenyCode.TOKEN_REFUSED
    assert "belongs to another session" in result.reasons[0]
    assert rig.ran == []
    [record] = rig.records(foreign.call_id)
    assert (record.code, record.details["stage"]) == ("token_refused", "personal_data")


def test_an_email_the_agent_typed_reaches_policy_and_audit_only_as_a_commitment(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    typed = _lookup("ada@example.com", "s-1")
    assert isinstance(rig.firewall.run(typed, lambda: "ok"), Executed)
    [decision] = [r for r in rig.records(typed.call_id) if r.event == "decision"]
    assert decision.args is not None
    assert decision.args["customer_id"].startswith("<EMAIL#")
    assert "ada@example.com" not in decision.model_dump_json()


def test_the_policy_is_told_where_each_token_came_from_and_the_audit_keeps_it(
    tmp_path: Path,
) -> None:
    mail = ToolSpec(
        name="mail",
        scope="crm:read",
        egress_args=("to",),
        args_schema={"type": "object", "properties": {"to": {"type": "string"}}},
    )
    tools = (*TOOLS, mail)
    rig = make_rig(tmp_path, tools=tools)
    shown = rig.firewall.protect_output(_lookup("c-1", "s-1"), {"email": "ada@example.com"})
    call = ToolCall(tool="mail", args={"to": shown["email"]}, principal=AGENT, session_id="s-1")
    rig.firewall.run(call, lambda: "sent")
    [decision] = [r for r in rig.records(call.call_id) if r.event == "decision"]
    policy_input = decision.details["policy_input"]
    assert policy_input["tool"]["egress_args"] == ["to"]
    assert policy_input["tokens"] == {
        shown["email"]: {"kind": "EMAIL", "tools": ["lookup"], "labels": [], "sources": {}}
    }
    assert policy_input["arg_sources"]["to"]["tokens"] == [shown["email"]]
    assert "ada@example.com" not in str(decision.details)
