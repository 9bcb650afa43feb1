"""Identity look-alikes: one person under two spellings must not pass a rule meant for one.

Written as an attacker: the requester spells themselves so as to approve their own call,
an agent or customer respells itself to get a fresh budget or dodge a freeze, a tenant
or approver id that looks like another's is slipped into a call or into configuration.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from firewall.adapters.service import ServiceRuntime
from firewall.adapters.slack import APPROVE_ACTION
from pydantic import ValidationError
from typer.testing import CliRunner

from firewall.approvals import ApprovalService, HoldRecord, HoldState, SqlApprovalStore
from firewall.audit.keyfiles import ensure_dev_key
from firewall.cli.approvals import GROUPS_ENV, app
from firewall.config import parse_config
from firewall.containment.freeze import FreezeTarget
from firewall.containment.settings import BreakerSettings, BudgetRule
from firewall.errors import ApprovalError, ConfigError
from firewall.gate import Executed
from firewall.service_config import TOKENS_ENV, hash_token, parse_service_config
from firewall.stages.limits import RateLimitRule
from firewall.types import Deny, DenyCode, Hold, Principal, ToolCall, new_id
from tests.adapters.rig import TOKENS, Rig, render_toml, running_service
from tests.approvals.helpers import RecordingSink
from tests.containment.rig import AGENT as CONTAINED_AGENT
from tests.containment.rig import call as contained_call
from tests.containment.rig import contained_rig
from tests.gate_helpers import AGENT, call, make_rig

GROUPS = {"supervisors": frozenset({"alice", "carol"})}
LOOK_ALIKES = [  # (spelling, what the refusal must name)
    ("alice\u00a0", "U+00A0 NO-BREAK SPACE at 5"),
    ("alice\u2003", "U+2003 EM SPACE at 5"),
    ("alice ", "space at 5"),
    (" alice", "space at 0"),
    ("alice  smith", "space at 6"),
    ("\uff41\uff4c\uff49\uff43\uff45", "U+FF41 FULLWIDTH LATIN SMALL LETTER A at 0"),
    ("\u0430lice", "U+0430 CYRILLIC SMALL LETTER A at 0"),
    ("\u0430\u04cf\u0456\u0441\u0435", "U+0430 CYRILLIC SMALL LETTER A at 0"),
    ("M\u00fcll\u0435r", "U+0435 CYRILLIC SMALL LETTER IE at 4"),
    ("\u0251lice", "U+0251 LATIN SMALL LETTER ALPHA at 0"),
    ("\U0001d41alice", "U+1D41A MATHEMATICAL BOLD SMALL A at 0"),
    ("\ufb01ona", "U+FB01 LATIN SMALL LIGATURE FI at 0"),
    ("alice\u0301", "U+0301 COMBINING ACUTE ACCENT at 5"),
    ("ali\u0307ce", "U+0307 COMBINING DOT ABOVE at 3"),
    ("al\u200dice", "U+200D at 2"),  # refused before this check too: kept as a guard
    ("bob\u00b2", "U+00B2 SUPERSCRIPT TWO at 3"),
]
FIELDS = ["agent_id", "tenant", "on_behalf_of", "requested_by", "session_id"]
runner = CliRunner()

EVE_TOKEN = "eve-Hq7Xk2Wp9Lm4Rt6Vb1Nz8Jc3Gs5Df0Ya"


def _wire_call(field: str, value: str) -> dict[str, Any]:
    principal = {"agent_id": "bot-1", "tenant": "acme", field: value}
    if field == "session_id":
        principal.pop("session_id")
        return {"tool": "lookup", "args": {}, "principal": principal, "session_id": value}
    return {"tool": "lookup", "args": {}, "principal": principal}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(("spelling", "named"), LOOK_ALIKES)
def test_a_look_alike_identity_is_refused_naming_the_character(
    field: str, spelling: str, named: str
) -> None:
    """Agents, tenants, customers, requesters and sessions spelled as look-alikes never enter."""
    with pytest.raises(ValidationError) as refused:
        ToolCall.model_validate_json(json.dumps(_wire_call(field, spelling)))
    assert named in str(refused.value)


@pytest.mark.parametrize(
    "name",
    ["alice", "U0ALICE", "customer:c-100", "alice@example.com", "Acme Corp", "M\u00fcller",
     "alic\u00e9", "\u0410\u043b\u0435\u043a\u0441\u0435\u0439", "\u7530\u4e2d\u305f\u306a\u304b"],
)  # fmt: skip
def test_real_names_in_one_script_are_kept_as_written(name: str) -> None:
    """The checks refuse look-alikes, not people: composed accents and other scripts pass."""
    assert Principal(agent_id=name, tenant=name, requested_by=name).requested_by == name


# --- the approval service, the CLI, Slack and REST ---------------------------------------


@pytest.fixture
def url(tmp_path: Path) -> str:
    ensure_dev_key(tmp_path)
    return f"sqlite:///{tmp_path / 'firewall.db'}"


@pytest.fixture
def rig(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """The approval service with REST and a mock Slack, on loopback."""
    with running_service(url, monkeypatch) as running:
        yield running


@pytest.fixture
def store(url: str) -> Iterator[SqlApprovalStore]:
    with SqlApprovalStore(url) as store:
        yield store


def _hold(
    service: ApprovalService, requested_by: str, *, quorum: int = 1, agent_id: str = "bot-1"
) -> HoldRecord:
    principal = Principal(agent_id=agent_id, tenant="acme", requested_by=requested_by)
    the_call = ToolCall(
        tool="issue_refund", args={"amount": 900}, principal=principal, session_id="s-1"
    )
    return service.open(the_call, _hold_for(the_call, quorum), money_arg="amount")


def _hold_for(the_call: ToolCall, quorum: int = 1) -> Hold:
    expires_at = datetime.now(UTC) + timedelta(minutes=5)
    return Hold(
        call_id=the_call.call_id,
        hold_id=new_id("hold"),
        approvers="supervisors",
        quorum=quorum,
        expires_at=expires_at,
        reasons=("refunds over 100 need a supervisor",),
    )


def _stored_hold(store: SqlApprovalStore, **changes: Any) -> HoldRecord:
    """A hold as a store written before identities were checked may hold it."""
    service = ApprovalService(store, RecordingSink(), GROUPS)
    record = _hold(service, "bob").model_copy(
        update={"hold_id": new_id("hold"), "call_id": new_id("call"), **changes}
    )
    store.create(record)
    return record


def _refused(action: Callable[[], object]) -> ApprovalError:
    with pytest.raises(ApprovalError) as refused:
        action()
    return refused.value


def test_requester_cannot_approve_their_own_call_under_another_case(
    store: SqlApprovalStore,
) -> None:
    audit = RecordingSink()
    service = ApprovalService(store, audit, GROUPS)
    record = _hold(service, "ALICE")
    assert _refused(lambda: service.approve(record.hold_id, "alice")).code == "self_approval"
    assert service.get(record.hold_id) == record
    assert [e.code for e in audit.of("approval_refused")] == ["self_approval"]


@pytest.mark.parametrize(
    "stored", ["alice\u00a0", "\uff41\uff4c\uff49\uff43\uff45", "\u0430lice", "Alice"]
)
def test_a_stored_hold_requested_by_a_look_alike_cannot_be_approved_by_the_original(
    store: SqlApprovalStore, stored: str
) -> None:
    principal = {"agent_id": "bot-1", "tenant": "acme", "requested_by": stored}
    record = _stored_hold(store, principal=principal)
    service = ApprovalService(store, RecordingSink(), GROUPS)
    assert _refused(lambda: service.approve(record.hold_id, "alice")).code == "self_approval"


def test_one_person_cannot_meet_a_quorum_under_two_spellings(store: SqlApprovalStore) -> None:
    record = _stored_hold(store, quorum=2, approvals=("Alice",))
    service = ApprovalService(store, RecordingSink(), GROUPS)
    assert _refused(lambda: service.approve(record.hold_id, "alice")).code == "already_approved"
    stored = service.get(record.hold_id)
    assert stored is not None
    assert stored.state is HoldState.PENDING


def test_a_look_alike_approver_is_refused_naming_the_character(store: SqlApprovalStore) -> None:
    audit = RecordingSink()
    service = ApprovalService(store, audit, GROUPS)
    record = _hold(service, "bob")
    refusal = _refused(lambda: service.approve(record.hold_id, "alice\u00a0"))
    assert (refusal.code, "U+00A0 NO-BREAK SPACE at 5" in str(refusal)) == ("not_an_approver", True)
    assert [e.code for e in audit.of("approval_refused")] == ["not_an_approver"]


@pytest.mark.parametrize(
    "groups",
    [
        {"supervisors": ["alice", "Alice"]},
        {"supervisors": ["alice"], "finance": ["ALICE"]},
        {"supervisors": ["\u0430lice"]},
        {"supervisors": ["alice\u00a0"]},
    ],
    ids=["case-in-group", "case-across-groups", "cyrillic", "nbsp"],
)
def test_approver_groups_listing_look_alikes_are_refused(
    store: SqlApprovalStore, groups: dict[str, list[str]]
) -> None:
    """Two entries for one person would let them meet a quorum of two alone."""
    with pytest.raises(ConfigError):
        ApprovalService(store, RecordingSink(), groups)
    with pytest.raises(ConfigError):
        parse_config({"tools": [{"name": "t", "scope": "s"}], "approvers": groups})


def test_cli_approver_cannot_approve_their_own_call_under_another_case(
    url: str, store: SqlApprovalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GROUPS_ENV, json.dumps({"supervisors": ["alice", "carol"]}))
    record = _hold(ApprovalService(store, RecordingSink(), GROUPS), "ALICE")
    result = runner.invoke(app, ["approve", record.hold_id, "--as", "alice", "--db", url])
    assert result.exit_code == 1, result.output
    assert "self_approval" in result.output
    assert store.get(record.hold_id) == record


@pytest.mark.parametrize(
    "case",
    [
        ({"supervisors": ["\u0430lice"]}, "\u0430lice", 2, "U+0430"),
        ({"supervisors": ["alice"]}, "alice\u00a0", 1, "U+00A0"),
    ],
    ids=["group-look-alike", "as-look-alike"],
)
def test_cli_look_alikes_are_refused_naming_the_character(
    url: str,
    store: SqlApprovalStore,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[dict[str, list[str]], str, int, str],
) -> None:
    groups, approver, exit_code, named = case
    monkeypatch.setenv(GROUPS_ENV, json.dumps(groups))
    record = _hold(ApprovalService(store, RecordingSink(), GROUPS), "bob")
    result = runner.invoke(app, ["approve", record.hold_id, "--as", approver, "--db", url])
    assert (result.exit_code, named in result.output) == (exit_code, True), result.output
    assert store.get(record.hold_id) == record


def test_slack_user_cannot_approve_a_call_requested_under_their_slack_user_id(rig: Rig) -> None:
    """[slack.users] maps alice to U0ALICE: the two names are one person."""
    record = _hold(rig.agent, "U0ALICE")
    ts = rig.card_ts(record.hold_id)
    assert rig.click("U0ALICE", APPROVE_ACTION, record.hold_id, ts).status_code == 200
    rig.slack.wait_until(lambda: _refusal_codes(rig) == ["self_approval"], "a refusal")
    assert rig.agent.get(record.hold_id) == record


@pytest.mark.parametrize("requester", ["ALICE", "U0ALICE"])
def test_rest_token_owner_cannot_approve_their_own_call_under_another_name(
    rig: Rig, requester: str
) -> None:
    record = _hold(rig.agent, requester)
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    response = rig.http.post(f"/api/holds/{record.hold_id}/approve", headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "self_approval"
    assert rig.agent.get(record.hold_id) == record


def _refusal_codes(rig: Rig) -> list[str | None]:
    rig.agent.adopt_decisions()  # as the gate does before it acts on a hold
    return [r.code for r in rig.audit.records() if r.event == "approval_refused"]


@pytest.mark.parametrize(
    ("table", "owner", "value"),
    [
        ("tokens", "ALICE", hash_token(EVE_TOKEN)),
        ("tokens", "\u0430lice", hash_token(EVE_TOKEN)),
        ("users", "Alice", "U0EVE"),
        ("users", "eve", "U0ALICE"),
    ],
    ids=["token-case", "token-cyrillic", "slack-case", "slack-id-twice"],
)
def test_service_config_refuses_look_alike_token_owners_and_slack_users(
    url: str, table: str, owner: str, value: str
) -> None:
    data = tomllib.loads(render_toml(url, "http://127.0.0.1:9"))
    (data["service"] if table == "tokens" else data["slack"])[table][owner] = value
    with pytest.raises(ConfigError):
        parse_service_config(data)


def test_env_token_owner_that_collides_with_a_configured_one_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKENS_ENV, json.dumps({"Alice": hash_token(EVE_TOKEN)}))
    config = parse_service_config(tomllib.loads(render_toml(url, None)))
    with pytest.raises(ConfigError):
        ServiceRuntime(config).close()


# --- budgets, rate limits, freezes and the breaker -----------------------------------------


def _as(principal: Principal, **changes: str) -> Principal:
    return principal.model_copy(update=changes)


def test_per_agent_rate_limit_is_shared_by_every_case_of_the_agent(tmp_path: Path) -> None:
    rule = RateLimitRule(tool="lookup", per="agent", limit="1/minute")
    rig = make_rig(tmp_path, rate_limits=(rule,))
    first = rig.firewall.run(call(), rig.tool())
    respelled = call().model_copy(update={"principal": _as(AGENT, agent_id="BOT-1")})
    second = rig.firewall.run(respelled, rig.tool())
    assert isinstance(first, Executed)
    assert isinstance(second, Deny)
    assert second.code is DenyCode.RATE_LIMITED


def test_per_customer_budget_is_shared_by_every_case_of_the_customer(tmp_path: Path) -> None:
    rule = BudgetRule(tool="refund", per="customer", amount=Decimal(300), window="1 hour")
    box = contained_rig(tmp_path, budgets=(rule,))
    results = []
    for customer in ("customer:c-1", "customer:C-1"):
        refund = contained_call("refund", amount=100)
        principal = _as(CONTAINED_AGENT, on_behalf_of=customer)
        for _ in range(2):
            fresh = refund.model_copy(update={"principal": principal, "call_id": new_id("call")})
            results.append(type(box.firewall.run(fresh, box.rig.tool())).__name__)
    assert results == ["Executed", "Executed", "Executed", "Deny"]


def test_a_freeze_stops_every_case_of_the_agent(tmp_path: Path) -> None:
    box = contained_rig(tmp_path)
    box.containment.freeze(FreezeTarget(kind="agent", name="BOT-1"), reason="spree", by="ops")
    result = box.firewall.run(contained_call(), box.rig.tool())
    assert isinstance(result, Deny)
    assert result.code is DenyCode.FROZEN
    assert box.seen == []


def test_a_freeze_naming_a_look_alike_is_refused_rather_than_missing_the_agent() -> None:
    with pytest.raises(ValidationError, match="U\\+00A0"):
        FreezeTarget(kind="agent", name="bot-1\u00a0")
    with pytest.raises(ValueError, match="U\\+0430"):
        FreezeTarget.parse("tenant:\u0430cme")


def test_the_breaker_counts_denials_across_every_case_of_the_agent(tmp_path: Path) -> None:
    box = contained_rig(tmp_path, breaker=BreakerSettings(max_denials=3))
    for agent_id in ("bot-1", "BOT-1", "Bot-1", "bOT-1"):
        denied = contained_call("pay").model_copy(
            update={"principal": _as(CONTAINED_AGENT, agent_id=agent_id)}
        )
        box.firewall.run(denied, box.rig.tool())
    after = box.firewall.run(contained_call(), box.rig.tool())
    assert isinstance(after, Deny)
    assert after.code is DenyCode.FROZEN
