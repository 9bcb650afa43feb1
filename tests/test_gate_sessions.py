"""The policy sees the session: earlier calls, their outcomes, labels and subjects."""

from __future__ import annotations

from pathlib import Path

from firewall.gate import Executed
from firewall.types import Deny, DenyCode, Risk, ToolCall, ToolSpec
from tests.gate_helpers import AGENT, make_rig

POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "allow", "reasons": []}

decision := {"outcome": "deny", "reasons": [sprintf("tainted by %v", [event.tool])]} if {
    input.tool.name == "pay"
    some event in input.session.history
    "untrusted" in event.labels
}
"""

TOOLS = (
    ToolSpec(name="read_ticket", scope="crm:read", output_labels=("untrusted",)),
    ToolSpec(name="lookup", scope="crm:read", subject_arg="customer_id"),
    ToolSpec(name="pay", scope="payments:write", risk=Risk.CRITICAL, money_arg="amount"),
)


def call(tool: str, session: str = "s1", **args: object) -> ToolCall:
    return ToolCall(tool=tool, args=dict(args), principal=AGENT, session_id=session)


def test_untrusted_output_taints_later_calls_of_the_same_session(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS)
    assert isinstance(rig.firewall.run(call("pay", amount=5), rig.tool()), Executed)
    rig.firewall.run(call("read_ticket", ticket_id="t-1"), rig.tool("ticket text"))
    refused = rig.firewall.run(call("pay", amount=5), rig.tool())
    assert isinstance(refused, Deny)
    assert refused.code is DenyCode.POLICY
    assert refused.reasons == ("tainted by read_ticket",)


def test_other_sessions_stay_clean(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS)
    rig.firewall.run(call("read_ticket", session="s1", ticket_id="t-1"), rig.tool())
    assert isinstance(rig.firewall.run(call("pay", session="s2", amount=5), rig.tool()), Executed)


def test_labels_join_the_session_only_once_the_tool_ran(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS)
    rig.firewall.run(call("read_ticket", ticket_id="t-1"), rig.tool())
    history = rig.firewall.sessions.history("acme", "s1")
    assert [(e.tool, e.outcome, e.labels) for e in history] == [
        ("read_ticket", "allow", ()),
        ("read_ticket", "ok", ("untrusted",)),
    ]


def test_history_records_the_subject_of_each_call(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS)
    rig.firewall.run(call("lookup", customer_id="c-9"), rig.tool())
    subjects = [e.subject for e in rig.firewall.sessions.history("acme", "s1")]
    assert subjects == ["c-9", "c-9"]
