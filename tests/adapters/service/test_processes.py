"""Two processes, one truth: the agent and ``firewall serve`` share only the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from firewall.adapters.slack import APPROVE_ACTION

from firewall.audit.keyfiles import KEY_FILE_ENV, generate_key_pair
from tests import services
from tests.adapters.rig import TOKENS, render_toml
from tests.adapters.service.processes import (
    AGENT_TIMEOUT_S,
    agent_process,
    next_event,
    service_process,
)
from tests.adapters.slack.mock_slack import BOT_TOKEN, MockSlack
from tests.adapters.slack.payloads import SIGNING_SECRET, block_action, form, signed

pytestmark = pytest.mark.slow

ENV = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for this test only, dropped afterwards."""
    with services.fresh_schema(postgres_url, "service") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The store URL both processes use, and the environment that lets them sign audit."""
    key_file, _, _ = generate_key_pair(tmp_path / "keys", "test")
    env = {**ENV, KEY_FILE_ENV: str(key_file)}
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}", env
    url: str = request.getfixturevalue("pg_url")
    return url, env


def _thread_replies(slack: MockSlack) -> list[str]:
    return [
        str(call.params["text"])
        for call in slack.calls_to("chat.postMessage")
        if "thread_ts" in call.params
    ]


def test_slack_click_in_the_service_lets_the_agent_process_run_the_call(
    tmp_path: Path, shared_store: tuple[str, dict[str, str]]
) -> None:
    db_url, env = shared_store
    with MockSlack() as slack:
        config = tmp_path / "firewall.toml"
        config.write_text(render_toml(db_url, slack.url, interval_s=0.1), encoding="utf-8")
        with service_process(config, env) as url, agent_process(config, 450.0, env) as agent:
            call_id = next_event(agent, "calling")["call_id"]
            [post] = slack.wait_until(
                lambda: slack.calls_to("chat.postMessage"), "the card"
            ) and slack.calls_to("chat.postMessage")
            hold_id = post.params["blocks"][-2]["elements"][0]["value"]
            body = form(block_action("U0CAROL", APPROVE_ACTION, hold_id, "1700000000.000001"))
            click = httpx.post(f"{url}/slack/events", content=body, headers=signed(body))
            assert click.status_code == 200
            ran = next_event(agent, "tool_ran")
            result = next_event(agent, "result")
            assert agent.wait(AGENT_TIMEOUT_S) == 0
            slack.wait_until(lambda: _thread_replies(slack), "the outcome reply")
    assert (result["kind"], result["hold_id"], result["value"]) == (
        "executed",
        hold_id,
        "refunded 450.00",
    )
    assert ran["at"] > 0
    [reply] = _thread_replies(slack)
    assert "`issue_refund` ran" in reply
    assert "outcome: ok" in reply
    assert call_id.startswith("call_")


def test_rest_denial_in_the_service_is_what_the_agent_process_gets(
    tmp_path: Path, shared_store: tuple[str, dict[str, str]]
) -> None:
    db_url, env = shared_store
    config = tmp_path / "firewall.toml"
    config.write_text(render_toml(db_url, None, interval_s=0.1), encoding="utf-8")
    with service_process(config, env) as url, agent_process(config, 450.0, env) as agent:
        next_event(agent, "calling")
        headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
        holds: list[dict[str, object]] = []
        for _ in range(600):
            holds = httpx.get(f"{url}/api/holds", headers=headers).json()["holds"]
            if holds:
                break
        [hold] = holds
        denial = httpx.post(
            f"{url}/api/holds/{hold['hold_id']}/deny", headers=headers, json={"reason": "dup"}
        )
        assert denial.status_code == 200
        result = next_event(agent, "result")
        assert agent.wait(AGENT_TIMEOUT_S) == 1
    assert (result["kind"], result["code"]) == ("deny", "approval_denied")
    assert json.dumps(result)
