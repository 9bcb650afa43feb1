"""A planted secret reaches no output channel of the demo-like agent path.

The demo's firewall (its ``firewall.toml``, backends and create_agent +
FirewallMiddleware) runs with two freshly planted service secrets. The tools use
them; one careless tool even logs and raises with its secret. Afterwards every channel
is searched: agent messages (tool calls, their args, ToolMessages), structlog and stdlib
logs, the exception that reached the caller, every row of every table of the database
(audit trail, approvals, freeze list), and the Slack approval card of each hold.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from firewall.adapters.slack.cards import CardContext, card
from firewall.adapters.slack.identity import SlackIdentities
from firewall.examples.support_agent.agent import SCRIPT, build_agent, scripted_turns
from firewall.examples.support_agent.backends import Backends
from firewall.examples.support_agent.run import demo_config
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool
from structlog.testing import capture_logs

from firewall.audit.keyfiles import ensure_dev_key
from firewall.config import FirewallConfig
from firewall.credentials import current_credential, install_log_redaction, redact_secrets
from firewall.credentials.vault import CredentialSpec
from firewall.factory import build_firewall
from firewall.gate import Firewall
from firewall.testing.approver import ScriptedApprover, always
from firewall.types import ToolSpec

POLICY_DIR = Path(__file__).parents[2] / "policies" / "rego"
DEBUG_POLICY = """
package firewall

import rego.v1

governed_tools contains "crm_debug"

allowed_tools contains "crm_debug"
"""

PLANTED = {
    "PLANTED_CRM_TOKEN": f"crm-{uuid.uuid4().hex}",
    "PLANTED_PAYMENTS_KEY": f"pay-{uuid.uuid4().hex}",
}


@pytest.fixture
def logging_redacted() -> Iterator[None]:
    """Redaction installed as an application would; the logging setup restored after."""
    processors, factory = list(structlog.get_config()["processors"]), logging.getLogRecordFactory()
    install_log_redaction()
    yield
    structlog.configure(processors=processors)
    logging.setLogRecordFactory(factory)


def planted_config(tmp_path: Path) -> FirewallConfig:
    """The demo's config, its secrets from planted environment variables, plus crm_debug."""
    policy_dir = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, policy_dir)
    (policy_dir / "crm_debug.rego").write_text(DEBUG_POLICY, encoding="utf-8")
    config = demo_config(tmp_path / "data")
    credentials = {
        "crm": CredentialSpec(secret="env:PLANTED_CRM_TOKEN"),
        "payments": CredentialSpec(secret="env:PLANTED_PAYMENTS_KEY"),
    }
    debug = ToolSpec(name="crm_debug", scope="crm:read", credential="crm")
    return config.model_copy(
        update={
            "vault": config.vault.model_copy(update={"credentials": credentials}),
            "policy": config.policy.model_copy(update={"dir": policy_dir}),
            "tools": [*config.tools, debug],
        }
    )


def careless_tool(seen: list[str]) -> BaseTool:
    """A tool that mishandles its credential: logs it both ways, then fails quoting it."""

    @tool
    def crm_debug(customer_id: str) -> str:
        """Debug a CRM customer record."""
        secret = current_credential().reveal()
        seen.append(secret)
        structlog.get_logger("crm").warning("crm_auth", customer=customer_id, token=secret)
        logging.getLogger("crm").warning("Authorization: Bearer %s", secret)
        raise PermissionError(f"CRM answered 401 to token {secret}")

    return crm_debug


def database_dump(data_dir: Path) -> str:
    """Every row of every table of the firewall's SQLite database, as text."""
    connection = sqlite3.connect(data_dir / "firewall.db")
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return "\n".join(
            repr(row)
            for table in tables
            for row in connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the db
        )
    finally:
        connection.close()


def slack_cards(firewall: Firewall, config: FirewallConfig) -> str:
    """The Slack approval cards of every hold, as the Slack adapter renders them."""
    personal = {tool.name: tool.personal_args for tool in config.tools}
    context = CardContext(
        SlackIdentities({}), firewall.approvals.groups, lambda name: personal.get(name, ())
    )
    holds = firewall.approvals._store.list(None)  # every state, not just pending
    return json.dumps([card(record, context) for record in holds], default=str)


def run_agents(
    firewall: Firewall, backends: Backends, seen: list[str]
) -> tuple[Any, BaseException]:
    request = {"messages": [HumanMessage("Please sort out customer c-100's orders.")]}
    conversation: RunnableConfig = {"configurable": {"thread_id": "conversation-1"}}
    with ScriptedApprover(firewall.approvals, always("approve", "alice")).running():
        agent = build_agent(firewall, backends.tools(), scripted_turns(SCRIPT))
        state = agent.invoke(request, conversation)
    debug_turns = scripted_turns([("crm_debug", {"customer_id": "c-100"})])
    with pytest.raises(PermissionError) as caught:
        build_agent(firewall, [careless_tool(seen)], debug_turns).invoke(request, conversation)
    return state, caught.value


@pytest.mark.usefixtures("logging_redacted")
def test_planted_secrets_reach_no_output_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    ensure_dev_key(tmp_path / "data")
    config = planted_config(tmp_path)
    backends = Backends.seeded()
    backends.service_keys = {
        "crm": PLANTED["PLANTED_CRM_TOKEN"],
        "payments": PLANTED["PLANTED_PAYMENTS_KEY"],
    }
    firewall = build_firewall(config, facts=backends.facts())
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG), capture_logs(processors=[redact_secrets]) as logs:
        state, error = run_agents(firewall, backends, seen)
    channels = {
        "agent messages": "\n".join(m.model_dump_json() for m in state["messages"]),
        "structlog events": repr(logs),
        "stdlib log records": caplog.text + repr([r.__dict__ for r in caplog.records]),
        "exception": "".join(traceback.format_exception(error)),
        "database rows": database_dump(tmp_path / "data"),
        "slack cards": slack_cards(firewall, config),
    }
    firewall.close()

    # The secrets were really used: the backends accepted them, the careless tool held one.
    assert [refund["order_id"] for refund in backends.refunds] == ["o-1", "o-2", "o-1"]
    assert seen == [PLANTED["PLANTED_CRM_TOKEN"]]
    assert "[REDACTED]" in channels["exception"]
    assert "[REDACTED]" in channels["stdlib log records"]
    assert "hold_" in channels["slack cards"]
    for channel, text in channels.items():
        for secret in PLANTED.values():
            assert secret not in text, f"secret found in {channel}"
