"""A session summary: every call counted, labels and subjects kept, only the latest in full."""

from __future__ import annotations

from firewall.session import (
    RECENT_EVENTS,
    MemorySessionStore,
    SessionEvent,
    SessionSummary,
    session_view,
    summarized,
)


def test_a_subject_joins_the_session_only_when_its_call_was_allowed_or_ran() -> None:
    summary = SessionSummary()
    for outcome, subject in (("hold", "c-1"), ("deny", "c-2"), ("allow", "c-3"), ("ok", "c-4")):
        summary.add(SessionEvent(tool="crm_lookup", outcome=outcome, subject=subject))
    assert summary.subjects == {"crm_lookup": ["c-3", "c-4"]}


def test_a_subject_is_listed_once_in_the_order_it_joined() -> None:
    view = summarized(
        "s1",
        [SessionEvent(tool="crm_lookup", outcome="ok", subject=s) for s in ("c-2", "c-1", "c-2")],
    )
    assert view["subjects"] == {"crm_lookup": ["c-2", "c-1"]}


def test_each_label_names_every_tool_that_brought_it_in_sorted_order() -> None:
    view = summarized(
        "s1",
        [
            SessionEvent(tool="read_ticket", outcome="ok", labels=("untrusted",)),
            SessionEvent(tool="read_email", outcome="ok", labels=("untrusted", "mail")),
        ],
    )
    assert view["labels"] == ["mail", "untrusted"]
    assert view["sources"] == {"untrusted": ["read_email", "read_ticket"], "mail": ["read_email"]}


def test_the_history_holds_only_the_latest_calls_oldest_first() -> None:
    events = [SessionEvent(tool=f"t{index}", outcome="ok") for index in range(RECENT_EVENTS + 3)]
    view = summarized("s1", events)
    assert [event["tool"] for event in view["history"]] == [e.tool for e in events[3:]]
    assert view["calls"] == RECENT_EVENTS + 3


def test_an_unknown_session_is_empty() -> None:
    assert MemorySessionStore().policy_view("acme", "nope") == session_view("nope")
    assert session_view("nope") == {
        "id": "nope",
        "calls": 0,
        "labels": [],
        "sources": {},
        "subjects": {},
        "counts": {},
        "history": [],
    }


def test_sessions_of_other_tenants_are_apart() -> None:
    store = MemorySessionStore()
    ticket = SessionEvent(tool="read_ticket", outcome="ok", labels=("untrusted",))
    store.record("acme", "s1", ticket)
    assert store.policy_view("globex", "s1")["labels"] == []
    assert store.policy_view("acme", "s1")["labels"] == ["untrusted"]


def test_a_policy_view_is_a_copy_later_calls_do_not_change() -> None:
    store = MemorySessionStore()
    store.record("acme", "s1", SessionEvent(tool="crm_lookup", outcome="ok", subject="c-1"))
    view = store.policy_view("acme", "s1")
    store.record("acme", "s1", SessionEvent(tool="crm_lookup", outcome="ok", subject="c-2"))
    assert view["subjects"] == {"crm_lookup": ["c-1"]}
    assert view["calls"] == 1


def test_the_number_of_latest_calls_kept_in_full_is_configurable() -> None:
    store = MemorySessionStore(recent_events=2)
    for tool in ("a", "b", "c"):
        store.record("acme", "s1", SessionEvent(tool=tool, outcome="ok"))
    view = store.policy_view("acme", "s1")
    assert [event["tool"] for event in view["history"]] == ["b", "c"]
    assert view["counts"] == {"a": {"ok": 1}, "b": {"ok": 1}, "c": {"ok": 1}}
