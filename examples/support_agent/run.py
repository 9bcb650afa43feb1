"""Run the demo: a scripted support agent whose every tool call passes the firewall."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from rich.console import Console

from firewall.audit.verify import verify_store
from firewall.config import FirewallConfig, load_config
from firewall.factory import build_firewall
from firewall.gate import Firewall
from firewall.types import CallKey

from .agent import PRINCIPAL, SCRIPT, build_agent, scripted_turns
from .backends import Backends
from .supervisor import manual_supervisor, rest_supervisor, scripted_supervisor
from .telemetry import console_observer

CONFIG_PATH = Path(__file__).with_name("firewall.toml")
CONVERSATION = "conversation-c-100"
"""The demo's one conversation: the firewall's session (history, tokens) is per thread id."""
CONVERSATION_CONFIG: RunnableConfig = {"configurable": {"thread_id": CONVERSATION}}


@dataclass
class Tally:
    """What happened to the agent's calls, for the closing summary."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def summary(self) -> str:
        """E.g. ``6 allowed, 4 denied, 2 held (1 approved and executed, 1 denied)``."""
        held = {k.removeprefix("held: "): n for k, n in self.counts.items() if k.startswith("held")}
        parts = [f"{n} {kind}" for kind, n in self.counts.items() if not kind.startswith("held")]
        if held:
            inner = ", ".join(f"{n} {kind}" for kind, n in held.items())
            parts.append(f"{sum(held.values())} held ({inner})")
        return ", ".join(parts)


def demo_config(data_dir: Path) -> FirewallConfig:
    """The example config with its stores (and its development audit key) in ``data_dir``.

    Also written to ``data_dir/firewall.toml``, so that the CLI commands deciding the
    demo's holds read the same [storage] and [approvers] (``--config``).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    config_file = data_dir / "firewall.toml"
    config_file.write_text(_data_dir_toml(), encoding="utf-8")
    return load_config(config_file)


def _data_dir_toml() -> str:
    """The example's firewall.toml, its paths made absolute and its store in this directory."""
    text = CONFIG_PATH.read_text(encoding="utf-8")
    base = CONFIG_PATH.parent
    for relative in ('"../../policies/rego"', '"demo_secrets.toml"'):
        text = text.replace(relative, json.dumps(str((base / json.loads(relative)).resolve())))
    return text.replace('"sqlite:///../../.firewall/firewall.db"', '"sqlite:///firewall.db"')


def _call_text(name: str, args: dict[str, Any]) -> str:
    inner = ", ".join(f"{key}={value!r}" for key, value in args.items())
    return f"{name}({inner})"


def _describe(message: ToolMessage, call_text: str, tally: Tally, held: bool) -> str:
    decision = message.additional_kwargs.get("firewall")
    if held and decision is not None and decision["kind"] != "hold":
        tally.add("held: denied")
        return f"[red]DENY[/]     {call_text}\n           -> agent was told: {message.content}"
    if decision is None and held:
        tally.add("held: approved and executed")
        return f"[green]EXECUTED[/] {call_text}\n           -> {message.content}"
    if decision is None:
        tally.add("allowed")
        return f"[green]ALLOW[/]    {call_text}\n           -> {message.content}"
    if decision["kind"] == "hold":
        tally.add("held: pending")
        return f"[yellow]PENDING[/]  {call_text}\n           -> {message.content}"
    tally.add("denied")
    return f"[red]DENY[/]     {call_text}\n           -> agent was told: {message.content}"


def _was_held(firewall: Firewall, call_id: str) -> bool:
    key = CallKey(
        tenant=PRINCIPAL.tenant,
        session_id=CONVERSATION,
        agent_id=PRINCIPAL.agent_id,
        call_id=call_id,
    )
    return firewall.approvals.for_call(key) is not None


@contextmanager
def _approver(mode: str, firewall: Firewall, console: Console, data_dir: Path) -> Iterator[None]:
    if mode == "manual":
        with manual_supervisor(firewall.approvals, console, data_dir / "firewall.toml"):
            yield
        return
    if mode == "rest":
        db_url = demo_config(data_dir).storage.approvals()
        with rest_supervisor(console, CONFIG_PATH, db_url, data_dir):
            yield
        return
    with scripted_supervisor(firewall.approvals, console):
        yield


def main(
    data_dir: Path = Path(".firewall"), approver: str = "scripted", *, otel_console: bool = False
) -> int:
    """Run the scripted agent; return 0 if the audit chain verifies afterwards."""
    console = Console(highlight=False, soft_wrap=True)
    config = demo_config(data_dir)
    backends = Backends.seeded()
    observer = console_observer() if otel_console else None
    firewall = build_firewall(config, facts=backends.facts(), observer=observer)
    turns = scripted_turns(SCRIPT)
    calls = {tc["id"]: (tc["name"], tc["args"]) for turn in turns for tc in turn.tool_calls}
    agent = build_agent(firewall, backends.tools(), turns)
    console.rule("Agent Firewall demo: support agent 'support-bot-1' (tenant acme)")
    tally = Tally()
    with _approver(approver, firewall, console, data_dir):
        request = {"messages": [HumanMessage("Please sort out customer c-100's orders.")]}
        for update in agent.stream(request, CONVERSATION_CONFIG, stream_mode="updates"):
            for node in update.values():
                for message in (node or {}).get("messages", []):
                    if isinstance(message, AIMessage):  # the args as the model sent them
                        calls |= {tc["id"]: (tc["name"], tc["args"]) for tc in message.tool_calls}
                    if isinstance(message, ToolMessage):
                        name, args = calls[message.tool_call_id]
                        held = _was_held(firewall, message.tool_call_id)
                        console.print(_describe(message, _call_text(name, args), tally, held))
    firewall.close()
    report = verify_store(config.storage.audit())
    status = "[green]intact[/]" if report.valid else "[red]TAMPERED[/]"
    for mail in backends.outbox:
        console.print(f"[bold]OUTBOX[/]   the email tool received to={mail['to']!r}")
    console.print(f"[bold]AUDIT[/]    {report.summary()}")
    console.print(
        f"[bold]Summary:[/] {len(calls)} tool calls: {tally.summary()};"
        f" refunds executed: {len(backends.refunds)}; audit chain {status}."
    )
    return 0 if report.valid else 1
