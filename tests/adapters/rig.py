"""The real service on a loopback port, a mock Slack, and an agent side opening holds."""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from firewall.adapters.service import ServerThread, ServiceRuntime, create_app

from firewall.approvals import ApprovalService, HoldRecord, SqlApprovalStore
from firewall.approvals.journal import DecisionJournal
from firewall.audit.store import SqlAuditLog
from firewall.service_config import ServiceConfig, hash_token, parse_service_config
from firewall.types import Hold, Principal, ToolCall, new_id
from tests.adapters.slack.mock_slack import BOT_TOKEN, MockSlack
from tests.adapters.slack.payloads import (
    APP_ID,
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    block_action,
    form,
    signed,
)

POLICY_DIR = Path(__file__).parents[2] / "policies" / "rego"
USERS = {"alice": "U0ALICE", "carol": "U0CAROL", "dave": "U0DAVE", "bob": "U0BOB", "erin": "U0ERIN"}
GROUPS = {
    "supervisors": frozenset({"alice", "carol", "dave", "bob"}),
    "finance": frozenset({"erin"}),
}
TOKENS = {name: secrets.token_urlsafe(32) for name in ("alice", "carol", "bob", "erin")}
AGENT = Principal(
    agent_id="support-bot",
    tenant="acme",
    scopes=frozenset({"refunds:write", "payments:write"}),
    on_behalf_of="customer:c-100",
    requested_by="bob",
)
TTL = timedelta(minutes=15)
TOOLS_TOML = """
[[tools]]
name = "issue_refund"
scope = "refunds:write"
risk = "high"
money_arg = "amount"
args_schema = { type = "object", properties = { order_id = {}, amount = {}, reason = {} } }

[[tools]]
name = "charge_card"
scope = "payments:write"
risk = "critical"
money_arg = "amount"
personal_args = ["customer_id"]
args_schema = { type = "object", properties = { customer_id = {}, amount = {}, description = {} } }
"""


def render_toml(db_url: str, slack_url: str | None, interval_s: float = 0.05) -> str:
    """A firewall.toml with the shipped policies, the test groups, [service] and [slack]."""
    groups = "\n".join(f"{name} = {sorted(members)!r}" for name, members in GROUPS.items())
    tokens = "\n".join(f'{name} = "{hash_token(token)}"' for name, token in TOKENS.items())
    users = "\n".join(f'{name} = "{slack_id}"' for name, slack_id in USERS.items())
    slack = (
        f'[slack]\nchannel = "{CHANNEL}"\napi_url = "{slack_url}"\n'
        f'team_id = "{TEAM["id"]}"\napi_app_id = "{APP_ID}"\n\n[slack.users]\n{users}\n'
        if slack_url
        else ""
    )
    return (
        f'[policy]\ndir = "{POLICY_DIR}"\n\n[storage]\nurl = "{db_url}"\n\n'
        f"[approvers]\n{groups}\n{TOOLS_TOML}\n"
        f"[service]\nsync_interval_s = {interval_s}\n\n[service.tokens]\n{tokens}\n\n{slack}"
    )


def service_config(db_url: str, slack_url: str | None, interval_s: float = 0.05) -> ServiceConfig:
    """The service's configuration: shared store, groups, REST tokens, Slack at ``slack_url``."""
    return parse_service_config(tomllib.loads(render_toml(db_url, slack_url, interval_s)))


@dataclass
class Rig:
    """A running service, its mock Slack, an HTTP client, and the agent's approval service."""

    runtime: ServiceRuntime
    http: httpx.Client
    slack: MockSlack
    agent: ApprovalService
    audit: SqlAuditLog

    def open_hold(
        self,
        tool: str = "issue_refund",
        *,
        quorum: int = 1,
        approvers: str = "supervisors",
        now: datetime | None = None,
        reasons: tuple[str, ...] = ("refund of 900 is above the auto-approve limit of 100",),
        **args: Any,
    ) -> tuple[ToolCall, HoldRecord]:
        """Hold a fresh call as the agent process would."""
        args = args or {"order_id": "o-2", "amount": 900}
        call = ToolCall(tool=tool, args=args, principal=AGENT, session_id="s-1")
        hold = Hold(
            call_id=call.call_id,
            hold_id=new_id("hold"),
            approvers=approvers,
            quorum=quorum,
            expires_at=(now or datetime.now(UTC)) + TTL,
            reasons=reasons,
        )
        return call, self.agent.open(call, hold, money_arg="amount")

    def card_ts(self, hold_id: str) -> str:
        """The ts of the hold's posted card (waits for the service to post it)."""
        [post] = [
            call
            for call in self.slack.wait_until(lambda: self.posts_for(hold_id), f"a card {hold_id}")
            if call.method == "chat.postMessage" and hold_id in str(call.params.get("blocks"))
        ]
        cards = self.runtime.slack.cards if self.runtime.slack else None
        assert cards is not None
        self.slack.wait_until(lambda: (row := cards.get(hold_id)) is not None and row.ts)
        row = cards.get(hold_id)
        assert row is not None
        assert row.ts is not None
        assert post.params["channel"] == CHANNEL
        return row.ts

    def posts_for(self, hold_id: str) -> list[Any]:
        return [
            call
            for call in self.slack.calls_to("chat.postMessage")
            if hold_id in str(call.params.get("blocks")) and "thread_ts" not in call.params
        ]

    def click(self, user: str, action: str, hold_id: str, ts: str = "1.0") -> httpx.Response:
        """``user`` (a Slack user id) clicks ``action`` on the hold's card, signed."""
        body = form(block_action(user, action, hold_id, ts))
        return self.http.post("/slack/events", content=body, headers=signed(body))

    def post_signed(self, payload: dict[str, Any], **signing: Any) -> httpx.Response:
        body = form(payload)
        return self.http.post("/slack/events", content=body, headers=signed(body, **signing))


@contextmanager
def running_service(
    db_url: str, monkeypatch: pytest.MonkeyPatch, *, with_slack: bool = True
) -> Iterator[Rig]:
    """The service on 127.0.0.1:<free port> over ``db_url``, with a mock Slack."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    with ExitStack() as stack:
        slack = stack.enter_context(MockSlack())
        config = service_config(db_url, slack.url if with_slack else None)
        runtime = ServiceRuntime(config)
        stack.callback(runtime.close)
        server = stack.enter_context(ServerThread(create_app(runtime, own_runtime=False)))
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        store = stack.enter_context(SqlApprovalStore(db_url))
        audit = stack.enter_context(SqlAuditLog(db_url))
        agent = ApprovalService(store, audit, GROUPS, journal=DecisionJournal(store))
        yield Rig(runtime=runtime, http=http, slack=slack, agent=agent, audit=audit)
