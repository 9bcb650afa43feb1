"""The policy sees the session: earlier calls, their outcomes, labels and subjects."""

from __future__ import annotations

from pathlib import Path

from firewall.audit.keyfiles import ensure_dev_key
from firewall.config import parse_config
from firewall.errors import SessionStoreError
from firewall.factory import build_firewall
from firewall.gate import Executed
from firewall.session import (
    MAX_SUBJECTS_PER_TOOL,
    RECENT_EVENTS,
    MemorySessionStore,
    SessionEvent,
)
from firewall.types import Deny, DenyCode, Risk, ToolCall, ToolSpec
from tests.gate_helpers import AGENT, make_rig, object_schema
from tests.session_workers import POLICY

TOOLS = (
    ToolSpec(
        name="read_ticket",
        scope="crm:read",
        output_labels=("untrusted",),
        args_schema=object_schema(ticket_id="string"),
    ),
    ToolSpec(
        name="lookup",
        scope="crm:read",
        subject_arg="customer_id",
        args_schema=object_schema(customer_id="string"),
    ),
    ToolSpec(
        name="pay",
        scope="payments:write",
        risk=Risk.CRITICAL,
        money_arg="amount",
        args_schema=object_schema(amount="number"),
    ),
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


def test_untrusted_content_taints_the_session_long_after_it_left_the_recent_history(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS)
    rig.firewall.run(call("read_ticket", ticket_id="t-1"), rig.tool("ticket text"))
    for _ in range(RECENT_EVENTS * 3):
        rig.firewall.run(call("lookup", customer_id="c-9"), rig.tool())
    assert all(e.tool == "lookup" for e in rig.firewall.sessions.history("acme", "s1"))
    refused = rig.firewall.run(call("pay", amount=5), rig.tool())
    assert isinstance(refused, Deny)
    assert refused.reasons == ("tainted by read_ticket",)


def test_the_policy_sees_the_whole_session_summarized(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS)
    rig.firewall.run(call("read_ticket", ticket_id="t-1"), rig.tool())
    rig.firewall.run(call("lookup", customer_id="c-9"), rig.tool())
    rig.firewall.run(call("pay", amount=5), rig.tool())
    session = rig.firewall.sessions.policy_view("acme", "s1")
    assert session["calls"] == 5  # read_ticket allow + ok, lookup allow + ok, pay deny
    assert session["labels"] == ["untrusted"]
    assert session["sources"] == {"untrusted": ["read_ticket"]}
    assert session["subjects"] == {"lookup": ["c-9"]}
    assert session["counts"] == {
        "read_ticket": {"allow": 1, "ok": 1},
        "lookup": {"allow": 1, "ok": 1},
        "pay": {"deny": 1},
    }
    assert [e["tool"] for e in session["history"]][-1] == "pay"


def test_a_session_keeps_a_bounded_number_of_subjects_per_tool(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS)
    for index in range(MAX_SUBJECTS_PER_TOOL + 5):
        rig.firewall.run(call("lookup", customer_id=f"c-{index}"), rig.tool())
    subjects = rig.firewall.sessions.policy_view("acme", "s1")["subjects"]["lookup"]
    assert subjects == [f"c-{index}" for index in range(MAX_SUBJECTS_PER_TOOL)]


def test_build_firewall_keeps_the_configured_number_of_latest_calls(tmp_path: Path) -> None:
    config = parse_config(
        {
            "policy": {"dir": str(tmp_path), "session_history": 1},
            "storage": {"url": f"sqlite:///{tmp_path / 'fw.db'}"},
            "audit": {"key_file": str(ensure_dev_key(tmp_path))},
            "tools": [{"name": "lookup", "scope": "crm:read"}],
        }
    )
    (tmp_path / "allow.rego").write_text(POLICY)
    firewall = build_firewall(config)
    try:
        for _ in range(3):
            firewall.run(call("lookup"), lambda: "ok")
        assert len(firewall.sessions.history("acme", "s1")) == 1
        assert firewall.sessions.policy_view("acme", "s1")["calls"] == 6
    finally:
        firewall.close()


class UnrecordingSessions(MemorySessionStore):
    """A session store that answers views but cannot record (a shared store gone away)."""

    def record(self, tenant: str, session_id: str, event: SessionEvent) -> None:
        raise SessionStoreError("session store unavailable (ConnectionError)")


def test_a_call_the_session_cannot_record_is_refused_and_audited(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS, sessions=UnrecordingSessions())
    the_call = call("lookup", customer_id="c-9")
    result = rig.firewall.run(the_call, rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.STORE_ERROR
    assert rig.ran == []
    [record] = rig.records(the_call.call_id)
    assert (record.outcome, record.code, record.details["stage"]) == (
        "deny",
        "store_error",
        "session",
    )


def test_an_outcome_the_session_cannot_record_does_not_undo_the_run(tmp_path: Path) -> None:
    """The tool already ran: the outcome is still audited (the store keeps the event)."""

    class FailsAfterTheDecision(MemorySessionStore):
        def record(self, tenant: str, session_id: str, event: SessionEvent) -> None:
            if event.outcome == "ok":
                raise SessionStoreError("session store unavailable (ConnectionError)")
            super().record(tenant, session_id, event)

    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS, sessions=FailsAfterTheDecision())
    the_call = call("read_ticket", ticket_id="t-1")
    assert isinstance(rig.firewall.run(the_call, rig.tool("text")), Executed)
    assert [r.event for r in rig.records(the_call.call_id)] == ["decision", "outcome"]


class UnreadableSessions(MemorySessionStore):
    """A session store that cannot show the session (a shared store gone away)."""

    def policy_view(self, tenant: str, session_id: str) -> dict[str, object]:
        raise SessionStoreError("session store unavailable (TimeoutError)")


def test_a_session_the_store_cannot_show_refuses_the_call(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=POLICY, tools=TOOLS, sessions=UnreadableSessions())
    the_call = call("pay", amount=5)
    result = rig.firewall.run(the_call, rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.STORE_ERROR
    assert result.reasons == ("session store unavailable (TimeoutError); call refused",)
    assert rig.ran == []
    assert [r.code for r in rig.records(the_call.call_id)] == ["store_error"]
