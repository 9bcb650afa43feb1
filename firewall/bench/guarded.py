"""The measured tool, bare and guarded: one allowed CRM lookup per call.

Every guarded variant is built by :func:`firewall.factory.build_firewall` from a
:class:`FirewallConfig`, so it is wired exactly as a deployment with that configuration;
only the stores and the policy engine differ between variants.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from firewall.audit.keyfiles import ensure_dev_key, generate_key_pair
from firewall.audit.settings import AuditSettings
from firewall.audit.store import SqlAuditLog
from firewall.bench.opa import opa_server_process
from firewall.bench.services import Service, redis_prefix
from firewall.bench.stats import CallFn
from firewall.config import FirewallConfig, PolicySettings, StorageSettings
from firewall.containment.settings import LimitSettings
from firewall.factory import build_firewall
from firewall.gate import Executed, Firewall
from firewall.stages.limits import RateLimitRule
from firewall.testing.postgres import fresh_schema
from firewall.types import Principal, ToolCall, ToolSpec

TOOL_NAME = "crm_lookup"
ARGS: Mapping[str, Any] = {"customer_id": "c-100"}
TOOL = ToolSpec(
    name=TOOL_NAME,
    scope="crm:read",
    description="Read a customer record",
    personal_args=("customer_id",),
    subject_arg="customer_id",
    args_schema={
        "type": "object",
        "properties": {"customer_id": {"type": "string"}},
        "required": ["customer_id"],
    },
)
PRINCIPAL = Principal(
    agent_id="bench-agent",
    tenant="acme",
    scopes=frozenset({"crm:read"}),
    on_behalf_of="customer:c-100",
)
SESSION_ID = "bench-session"
"""One long conversation: the policy sees a session as long as the benchmark runs."""
# Never refusing, so every call pays for the checks and passes. A one-second moving
# window holds as few entries as a real limit does (100/minute holds at most 100); a long
# window at benchmark rates would keep every call and slow each check as the run goes on.
RATE_LIMITS = (
    RateLimitRule(tool=TOOL_NAME, per="agent", limit="10000/second"),
    RateLimitRule(tool="*", per="tenant", limit="10000/second"),
)


def lookup() -> dict[str, str]:
    """The tool itself: an in-memory CRM read (the floor every variant pays)."""
    return {"customer_id": "c-100", "tenant": "acme", "name": "Ada Lovelace"}


def customer_facts(call: ToolCall) -> Mapping[str, Any]:
    """The trusted facts the CRM policy needs: the customer belongs to the caller's tenant."""
    return {"customer": {"id": call.args.get("customer_id"), "tenant": "acme"}}


def policy_dir() -> Path:
    """The shipped Rego policies (``policies/rego``)."""
    return Path(str(importlib.resources.files("firewall.policies") / "rego"))


def bench_config(
    storage: StorageSettings,
    *,
    engine: str = "embedded",
    audit: AuditSettings | None = None,
    limits: LimitSettings | None = None,
) -> FirewallConfig:
    """The benchmark's firewall: one tool, two rate-limit rules, the shipped policy."""
    return FirewallConfig(
        policy=PolicySettings(engine=engine, dir=policy_dir()),
        storage=storage,
        tools=[TOOL],
        rate_limits=list(RATE_LIMITS),
        limits=limits or LimitSettings(),
        audit=audit or AuditSettings(),
    )


@contextlib.contextmanager
def opened(config: FirewallConfig) -> Iterator[Firewall]:
    """``build_firewall(config)``, every store it opened closed afterwards."""
    firewall = build_firewall(config, facts={TOOL_NAME: customer_facts})
    try:
        yield firewall
    finally:
        firewall.close()  # the policy engine and the limits, freeze and budget stores
        firewall.approvals.close()
        if isinstance(firewall.audit, SqlAuditLog):
            firewall.audit.close()


def guarded_call(firewall: Firewall) -> CallFn:
    """One guarded lookup through ``firewall``; a refusal stops the benchmark."""

    def call() -> object:
        tool_call = ToolCall(
            tool=TOOL_NAME, args=dict(ARGS), principal=PRINCIPAL, session_id=SESSION_ID
        )
        result = firewall.run(tool_call, lookup)
        if isinstance(result, Executed):
            return result.value
        raise RuntimeError(f"the firewall refused a benchmark call: {result!r}")

    return call


@contextlib.contextmanager
def bare() -> Iterator[CallFn]:
    """The unguarded tool."""
    yield lookup


@contextlib.contextmanager
def embedded_firewall(
    engine: str = "embedded", audit: AuditSettings | None = None
) -> Iterator[Firewall]:
    """Embedded defaults: SQLite audit and approvals in a temp dir, dev audit key, memory limits."""
    with tempfile.TemporaryDirectory(prefix="firewall-bench-") as tmp:
        data_dir = Path(tmp)
        ensure_dev_key(data_dir)
        storage = StorageSettings(url=f"sqlite:///{data_dir / 'firewall.db'}")
        with opened(bench_config(storage, engine=engine, audit=audit)) as firewall:
            yield firewall


@contextlib.contextmanager
def embedded() -> Iterator[CallFn]:
    """Guarded on embedded defaults (regopy, memory limits, SQLite audit)."""
    with embedded_firewall() as firewall:
        yield guarded_call(firewall)


@contextlib.contextmanager
def embedded_without_fsync() -> Iterator[CallFn]:
    """Embedded defaults but ``[audit] sqlite_synchronous = "normal"``: what the fsync costs."""
    with embedded_firewall(audit=AuditSettings(sqlite_synchronous="normal")) as firewall:
        yield guarded_call(firewall)


@contextlib.contextmanager
def postgres_redis_firewall(postgres: Service, redis: Service) -> Iterator[Firewall]:
    """Audit and approvals on a fresh PostgreSQL schema, limits and freezes on Redis."""
    postgres_url, redis_url = postgres.require(), redis.require()
    with (
        tempfile.TemporaryDirectory(prefix="firewall-bench-") as tmp,
        fresh_schema(postgres_url, "bench") as url,
        redis_prefix(redis_url) as prefix,
    ):
        key_file, _, _ = generate_key_pair(Path(tmp), "bench")
        config = bench_config(
            StorageSettings(url=url, limits_url=redis_url),
            audit=AuditSettings(key_file=key_file),
            limits=LimitSettings(key_prefix=prefix),
        )
        with opened(config) as firewall:
            yield firewall


@contextlib.contextmanager
def postgres_redis(postgres: Service, redis: Service) -> Iterator[CallFn]:
    """Guarded with PostgreSQL audit and Redis limits."""
    with postgres_redis_firewall(postgres, redis) as firewall:
        yield guarded_call(firewall)


@contextlib.contextmanager
def opa_firewall() -> Iterator[Firewall]:
    """Embedded stores; the policy asked of an OPA Data-API server in its own process."""
    with (
        opa_server_process() as url,
        embedded_firewall(f"opa+{url}?upload_policies=true") as firewall,
    ):
        yield firewall


@contextlib.contextmanager
def opa_server() -> Iterator[CallFn]:
    """Guarded through the OPA-server engine."""
    with opa_firewall() as firewall:
        yield guarded_call(firewall)
