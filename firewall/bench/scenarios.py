"""The measured scenarios: what each one calls, and which floor it is compared with."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from firewall.bench import agent, guarded
from firewall.bench.services import Service
from firewall.bench.stats import CallFn

Opener = Callable[[], AbstractContextManager[CallFn]]


@dataclass(frozen=True)
class Scenario:
    """One way of making the call; ``open()`` yields the call (or raises BenchSkip)."""

    key: str
    label: str
    open: Opener
    floor: str | None = None
    """The key of the scenario this one adds cost to (its ratio's denominator)."""


BARE = "bare"
EMBEDDED = "embedded"
EMBEDDED_NO_FSYNC = "embedded_no_fsync"
POSTGRES_REDIS = "postgres_redis"
OPA = "opa"
AGENT_PLAIN = "agent_plain"
AGENT_LANGCHAIN = "agent_langchain"
AGENT_FIREWALL = "agent_firewall"


def scenarios(postgres: Service, redis: Service) -> list[Scenario]:
    """Every scenario, floors first."""
    return [
        Scenario(BARE, "bare tool call", guarded.bare),
        Scenario(
            EMBEDDED,
            "guarded: embedded defaults (regopy, memory limits, SQLite audit)",
            guarded.embedded,
            BARE,
        ),
        Scenario(
            EMBEDDED_NO_FSYNC,
            'guarded: embedded, SQLite sqlite_synchronous = "normal" (no fsync per commit)',
            guarded.embedded_without_fsync,
            BARE,
        ),
        Scenario(
            POSTGRES_REDIS,
            "guarded: PostgreSQL audit + Redis limits and sessions",
            lambda: guarded.postgres_redis(postgres, redis),
            BARE,
        ),
        Scenario(OPA, "guarded: OPA server policy (Data API, loopback)", guarded.opa_server, BARE),
        Scenario(AGENT_PLAIN, "agent tool step: no middleware", agent.plain_agent),
        Scenario(
            AGENT_LANGCHAIN,
            "agent tool step: LangChain ToolCallLimit + HumanInTheLoop",
            agent.langchain_agent,
            AGENT_PLAIN,
        ),
        Scenario(
            AGENT_FIREWALL,
            "agent tool step: FirewallMiddleware (embedded defaults)",
            agent.firewall_agent,
            AGENT_PLAIN,
        ),
    ]
