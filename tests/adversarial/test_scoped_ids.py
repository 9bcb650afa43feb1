"""Model-chosen ids are scoped to (tenant, session, agent) and unique by constraint.

Attacked from outside: two tenants (or two conversations) whose models both say
``call_1``, rows written with plain SQL, two threads racing with one id, and conversations
wired exactly as the README shows, passing a token from one conversation to another.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg  # noqa: F401 - its C extension must load before anything swaps datetime
import pytest
from firewall.adapters.langchain import (
    FirewallInterruptMiddleware,
    FirewallMiddleware,
    guard_tools,
)
from firewall.examples.support_agent.agent import ScriptedChatModel
from firewall.examples.support_agent.backends import Backends
from firewall.examples.support_agent.run import demo_config
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError
from sqlalchemy import MetaData, Table, create_engine, select
from sqlalchemy.exc import IntegrityError

from firewall.approvals import ApprovalService, HoldState, SqlApprovalStore
from firewall.audit.keyfiles import ensure_dev_key
from firewall.audit.store import SqlAuditLog
from firewall.errors import ConfigError
from firewall.factory import build_firewall
from firewall.gate import Firewall
from firewall.policy.embedded import RegoEngine
from firewall.recording import outcome_event
from firewall.settings import GateSettings
from firewall.types import Deny, DenyCode, Hold, Principal, ToolCall
from tests import services
from tests.adapters.rig import Rig, running_service
from tests.adversarial.scoped_workers import open_holds
from tests.gate_helpers import POLICY, TOOLS

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
TOKEN = re.compile(r"<EMAIL_[0-9a-f]{12}>")


def principal(tenant: str, customer: str, agent_id: str = "support-bot-1") -> Principal:
    return Principal(
        agent_id=agent_id,
        tenant=tenant,
        scopes=frozenset({"crm:read", "payments:write", "refunds:write", "email:send"}),
        on_behalf_of=f"customer:{customer}",
        requested_by="bob",
    )


ACME = principal("acme", "c-100")
GLOBEX = principal("globex", "c-900")


def thread(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


def says(tool: str, args: dict[str, Any], call_id: str = "call_1") -> list[AIMessage]:
    """A model that makes one tool call with the id ``call_id``, then answers."""
    return [
        AIMessage(content="", tool_calls=[{"name": tool, "args": args, "id": call_id}]),
        AIMessage(content="done"),
    ]


def charge(customer: str, amount: float) -> list[AIMessage]:
    """A card charge (the shipped policy always holds one) with the model's id ``call_1``."""
    return says("charge_card", {"customer_id": customer, "amount": amount, "description": "x"})


@pytest.fixture
def firewall(tmp_path: Path) -> Iterator[Firewall]:
    """The demo's firewall (shipped policy, SQLite stores)."""
    ensure_dev_key(tmp_path)
    built = build_firewall(demo_config(tmp_path), facts=Backends.seeded().facts())
    yield built
    built.close()
    built.approvals.close()


def interrupting_agent(
    firewall: Firewall, who: Principal, backends: Backends, turns: list[AIMessage]
) -> Any:
    middleware = FirewallInterruptMiddleware(firewall, who, settle_s=0.05)
    model = ScriptedChatModel(messages=iter(turns))
    return create_agent(
        model, tools=backends.tools(), middleware=[middleware], checkpointer=InMemorySaver()
    )


def paused_on(agent: Any, config: dict[str, Any]) -> dict[str, Any]:
    result = agent.invoke({"messages": [HumanMessage("charge the card")]}, config)
    [paused] = result["__interrupt__"]
    payload: dict[str, Any] = paused.value
    return payload


# -- the interrupt middleware: each tenant's call_1 has its own hold ---------------------------


def test_another_tenant_reusing_call_1_is_shown_its_own_hold_not_acmes(firewall: Firewall) -> None:
    backends = Backends.seeded()
    acme = interrupting_agent(firewall, ACME, backends, charge("c-100", 99.0))
    globex = interrupting_agent(firewall, GLOBEX, backends, charge("c-900", 77.0))
    acme_hold = paused_on(acme, thread("1"))
    globex_hold = paused_on(globex, thread("1"))  # same thread name, same call id
    assert globex_hold["hold_id"] != acme_hold["hold_id"]
    assert globex_hold["args"]["amount"] == 77.0
    record = firewall.approvals.get(globex_hold["hold_id"])
    assert record is not None
    assert record.principal["tenant"] == "globex"


def test_approving_acmes_call_1_neither_runs_nor_decides_another_tenants_call_1(
    firewall: Firewall,
) -> None:
    backends = Backends.seeded()
    acme = interrupting_agent(firewall, ACME, backends, charge("c-100", 99.0))
    globex = interrupting_agent(firewall, GLOBEX, backends, charge("c-900", 77.0))
    acme_hold = paused_on(acme, thread("1"))
    globex_hold = paused_on(globex, thread("1"))
    firewall.approvals.approve(acme_hold["hold_id"], "alice")

    resumed = globex.invoke(Command(resume="approved"), thread("1"))
    [still] = [m for m in resumed["messages"] if isinstance(m, ToolMessage)]
    assert "approval_pending" in str(still.content)
    assert globex_hold["hold_id"] in str(still.content)
    record = firewall.approvals.get(globex_hold["hold_id"])
    assert record is not None
    assert record.state is HoldState.PENDING
    assert backends.charges == []

    acme.invoke(Command(resume="approved"), thread("1"))
    assert backends.charges == [{"customer_id": "c-100", "amount": 99.0}]


def test_two_conversations_of_one_tenant_reusing_call_1_get_separate_holds(
    firewall: Firewall,
) -> None:
    backends = Backends.seeded()
    first = interrupting_agent(firewall, ACME, backends, charge("c-100", 10.0))
    second = interrupting_agent(firewall, ACME, backends, charge("c-100", 20.0))
    one, two = paused_on(first, thread("t-1")), paused_on(second, thread("t-2"))
    assert one["hold_id"] != two["hold_id"]
    assert (one["args"]["amount"], two["args"]["amount"]) == (10.0, 20.0)


def test_a_reused_call_id_for_a_different_call_gets_its_own_hold(firewall: Firewall) -> None:
    """A later turn reusing ``call_1`` in the same conversation never inherits the first's hold.

    It is another call (the model's next message): it is held on its own.
    """
    backends = Backends.seeded()
    turns = [*charge("c-100", 10.0)[:1], *charge("c-100", 5000.0)]
    agent = interrupting_agent(firewall, ACME, backends, turns)
    first = paused_on(agent, thread("t-1"))
    firewall.approvals.approve(first["hold_id"], "alice")
    result = agent.invoke(Command(resume="approved"), thread("t-1"))
    [second] = result["__interrupt__"]
    assert second.value["hold_id"] != first["hold_id"]
    assert second.value["args"]["amount"] == 5000.0
    assert backends.charges == [{"customer_id": "c-100", "amount": 10.0}]


# -- the store: one hold per scoped call id, by constraint ------------------------------------


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    ensure_dev_key(tmp_path)
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'firewall.db'}"
        return
    with services.fresh_schema(request.getfixturevalue("postgres_url"), "scoped") as url:
        yield url


def gate_on(db_url: str, tmp_path: Path) -> Firewall:
    """A firewall in ``return`` hold mode whose holds live at ``db_url``."""
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir(exist_ok=True)
    (policy_dir / "decision.rego").write_text(POLICY, encoding="utf-8")
    audit = SqlAuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    approvals = ApprovalService(SqlApprovalStore(db_url), audit, {"supervisors": ["alice"]})
    return Firewall(
        tools=TOOLS,
        policy=RegoEngine(policy_dir),
        audit=audit,
        approvals=approvals,
        settings=GateSettings(hold_mode="return"),
    )


def refund(who: Principal, session: str, call_id: str, amount: float = 250) -> ToolCall:
    return ToolCall(
        tool="refund",
        args={"order_id": "o-1", "amount": amount},
        principal=who,
        session_id=session,
        call_id=call_id,
    )


def test_plain_sql_cannot_add_a_second_hold_for_the_same_scoped_call_id(
    db_url: str, tmp_path: Path
) -> None:
    firewall = gate_on(db_url, tmp_path)
    assert isinstance(firewall.guard(refund(ACME, "s-1", "call_1")), Hold)
    engine = create_engine(db_url)
    try:
        table = Table("approval_holds", MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            row = dict(conn.execute(select(table)).one()._mapping)
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(table.insert().values({**row, "hold_id": "hold_forged"}))
    finally:
        engine.dispose()
        firewall.approvals.close()


def test_the_same_call_id_in_another_tenant_session_or_agent_is_its_own_hold(
    db_url: str, tmp_path: Path
) -> None:
    firewall = gate_on(db_url, tmp_path)
    calls = [
        refund(ACME, "s-1", "call_1"),
        refund(GLOBEX, "s-1", "call_1"),
        refund(ACME, "s-2", "call_1"),
        refund(principal("acme", "c-100", agent_id="other-bot"), "s-1", "call_1"),
    ]
    try:
        holds = [firewall.guard(call) for call in calls]
        assert all(isinstance(hold, Hold) for hold in holds)
        for call, hold in zip(calls, holds, strict=True):
            found = firewall.approvals.for_call(call.key)
            assert found is not None
            assert isinstance(hold, Hold)
            assert found.hold_id == hold.hold_id
            assert found.digest == call.binding_digest()
    finally:
        firewall.approvals.close()


def test_a_second_call_reusing_a_held_id_in_its_session_is_refused(
    db_url: str, tmp_path: Path
) -> None:
    firewall = gate_on(db_url, tmp_path)
    try:
        first = firewall.guard(refund(ACME, "s-1", "call_1", amount=10))
        second = firewall.guard(refund(ACME, "s-1", "call_1", amount=9000))
        assert isinstance(first, Hold)
        assert isinstance(second, Deny)
        assert second.code is DenyCode.INVALID_CALL
        assert "call_1" in second.message()
        assert [r.hold_id for r in firewall.approvals.pending()] == [first.hold_id]
    finally:
        firewall.approvals.close()


def test_two_threads_guarding_one_scoped_call_id_place_at_most_one_hold(
    db_url: str, tmp_path: Path
) -> None:
    firewall = gate_on(db_url, tmp_path)
    rounds = 8
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for n in range(rounds):
                barrier = threading.Barrier(2)

                def guard(amount: float, n: int = n, barrier: threading.Barrier = barrier) -> Any:
                    barrier.wait()
                    return firewall.guard(refund(ACME, "s-1", f"call_{n}", amount))

                results = list(pool.map(guard, (100.0, 200.0)))
                kinds = sorted(type(result).__name__ for result in results)
                assert kinds == ["Deny", "Hold"], results
                [denial] = [r for r in results if isinstance(r, Deny)]
                assert denial.code is DenyCode.INVALID_CALL
        holds = firewall.approvals.pending()
        assert sorted(r.call_id for r in holds) == sorted(f"call_{n}" for n in range(rounds))
    finally:
        firewall.approvals.close()


# -- sessions: explicit or derived per conversation, never one shared "default" ---------------


def token_shown_in(agent: Any, config: dict[str, Any]) -> str:
    result = agent.invoke({"messages": [HumanMessage("look up c-100")]}, config)
    [shown] = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    found = TOKEN.search(str(shown.content))
    assert found is not None, shown.content
    return found.group()


def mail(token: str) -> list[AIMessage]:
    return says("send_email", {"to": token, "subject": "Hi", "body": "Hello"}, "call_2")


def test_guard_tools_as_the_readme_wires_it_keeps_a_token_in_its_conversation(
    firewall: Firewall,
) -> None:
    backends = Backends.seeded()
    tools = guard_tools(backends.tools(), firewall, ACME)  # as the README: no session id

    def agent(turns: list[AIMessage]) -> Any:
        model = ScriptedChatModel(messages=iter(turns))
        return create_agent(model, tools=tools, checkpointer=InMemorySaver())

    token = token_shown_in(agent(says("crm_lookup", {"customer_id": "c-100"})), thread("t-1"))
    result = agent(mail(token)).invoke({"messages": [HumanMessage("mail")]}, thread("t-2"))
    [reply] = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert reply.status == "error"
    assert "token_refused" in str(reply.content)
    assert backends.outbox == []


def test_middleware_without_a_thread_id_refuses_instead_of_sharing_one_session(
    firewall: Firewall,
) -> None:
    backends = Backends.seeded()
    model = ScriptedChatModel(messages=iter(says("crm_lookup", {"customer_id": "c-100"})))
    agent = create_agent(
        model, tools=backends.tools(), middleware=[FirewallMiddleware(firewall, ACME)]
    )
    with pytest.raises(ConfigError, match="thread_id"):
        agent.invoke({"messages": [HumanMessage("look up c-100")]})
    assert list(firewall.audit.records()) == []  # type: ignore[attr-defined]


def test_guard_tools_without_a_thread_or_session_id_refuses_the_call(firewall: Firewall) -> None:
    backends = Backends.seeded()
    [lookup] = [t for t in guard_tools(backends.tools(), firewall, ACME) if t.name == "crm_lookup"]
    with pytest.raises(ConfigError, match="session_id"):
        lookup.invoke({"customer_id": "c-100"})


def test_a_core_tool_call_without_a_session_is_refused_at_construction() -> None:
    with pytest.raises(ValidationError, match="session_id"):
        ToolCall(tool="refund", args={}, principal=ACME)


# -- Slack: a card reports only its own call's outcome ---------------------------------------


def test_a_slack_card_never_reports_another_tenants_call_with_the_same_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_dev_key(tmp_path)
    with running_service(f"sqlite:///{tmp_path / 'firewall.db'}", monkeypatch) as rig:
        call, record = rig.open_hold()
        ts = rig.card_ts(record.hold_id)
        rig.agent.approve(record.hold_id, "alice")
        rig.agent.consume(record.hold_id, call.binding_digest())  # acme's call is running
        other = call.model_copy(update={"principal": GLOBEX})  # globex's own call_… ran
        rig.audit.append(outcome_event(other, "error", "TimeoutError"))
        rig.runtime.worker.tick()
        assert thread_replies(rig) == []
        rig.audit.append(outcome_event(call, "ok", None, hold_id=record.hold_id))
        rig.slack.wait_until(lambda: thread_replies(rig), "acme's own outcome")
        [reply] = thread_replies(rig)
        assert reply.params["thread_ts"] == ts
        assert "failed" not in reply.params["text"]


def thread_replies(rig: Rig) -> list[Any]:
    return [c for c in rig.slack.calls_to("chat.postMessage") if "thread_ts" in c.params]


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_holding_the_same_scoped_call_ids_on_postgres_store_one_hold_each(
    postgres_url: str,
) -> None:
    call_ids = [f"call_{n}" for n in range(20)]
    with services.fresh_schema(postgres_url, "scoped") as url:
        SqlApprovalStore(url).close()  # the table exists before the race
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(2) as pool:
            start_at = time.time() + 3.0  # both children imported and connected by then
            results = pool.starmap(open_holds, [(url, call_ids, start_at)] * 2)
        with SqlApprovalStore(url) as store:
            held = sorted(record.call_id for record in store.list())
    for call_id in call_ids:
        assert sorted(result[call_id] for result in results) == ["created", "duplicate"]
    assert held == sorted(call_ids)
