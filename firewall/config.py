"""``firewall.toml``: tools, scopes, risk, limits, policy and storage, validated by pydantic.

A bad file fails at start with a :class:`ConfigError` naming the key that is wrong.
Everything here can equally be built from Python.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, model_validator

from firewall.audit.settings import AuditSettings
from firewall.containment.settings import BreakerSettings, BudgetRule, LimitSettings
from firewall.containment.stores import is_redis
from firewall.credentials.vault import VaultSettings
from firewall.errors import ConfigError
from firewall.identity import spelled_twice
from firewall.pii.rules import PiiSettings
from firewall.session import MAX_RECENT_EVENTS, RECENT_EVENTS
from firewall.settings import GateSettings
from firewall.stages.limits import RateLimitRule
from firewall.totals.base import TotalRule
from firewall.types import Frozen, Identity, ToolSpec


def _memory_or_redis(url: str | None) -> str | None:
    if url is None or url == "memory://" or is_redis(url):
        return url
    raise ValueError(f"must be memory:// or a redis:// URL, not {url!r}")


class StorageSettings(Frozen):
    """Where durable state lives; one SQLAlchemy URL serves audit and approvals by default."""

    url: str = "sqlite:///.firewall/firewall.db"
    audit_url: str | None = None
    approvals_url: str | None = None
    limits_url: str = "memory://"
    freeze_url: str | None = None
    sessions_url: Annotated[str | None, AfterValidator(_memory_or_redis)] = None
    totals_url: Annotated[str | None, AfterValidator(_memory_or_redis)] = None

    def audit(self) -> str:
        """The audit log URL."""
        return self.audit_url or self.url

    def approvals(self) -> str:
        """The approval store URL."""
        return self.approvals_url or self.url

    def freeze(self) -> str:
        """The freeze list: ``freeze_url``, else the Redis of the limits, else the SQL store."""
        if self.freeze_url:
            return self.freeze_url
        return self.limits_url if is_redis(self.limits_url) else self.url

    def totals(self) -> str:
        """Running totals: ``totals_url``, else the Redis of the limits, else memory."""
        if self.totals_url:
            return self.totals_url
        return self.limits_url if is_redis(self.limits_url) else "memory://"

    def sessions(self) -> str:
        """Session summaries: ``sessions_url``, else the Redis of the limits, else memory."""
        if self.sessions_url:
            return self.sessions_url
        return self.limits_url if is_redis(self.limits_url) else "memory://"


class PolicySettings(Frozen):
    """Which engine evaluates which policy directory."""

    engine: str = "embedded"
    dir: Path = Path("policies/rego")
    session_history: int = Field(
        default=RECENT_EVENTS,
        ge=0,
        le=MAX_RECENT_EVENTS,
        description="Latest calls of the session the policy sees in full "
        "(input.session.history); the rest of the session reaches it summarized.",
    )


class FirewallConfig(Frozen):
    """The whole configuration file."""

    policy: PolicySettings = PolicySettings()
    storage: StorageSettings = StorageSettings()
    holds: GateSettings = GateSettings()
    tools: Annotated[list[ToolSpec], Field(min_length=1)]
    rate_limits: list[RateLimitRule] = Field(default_factory=list)
    budgets: list[BudgetRule] = Field(default_factory=list)
    totals: list[TotalRule] = Field(default_factory=list)
    limits: LimitSettings = LimitSettings()
    breaker: BreakerSettings = BreakerSettings()
    vault: VaultSettings = VaultSettings()
    audit: AuditSettings = AuditSettings()
    pii: PiiSettings = PiiSettings()
    approvers: dict[str, frozenset[Identity]] = Field(
        default_factory=dict, description="Approver groups: name -> user ids."
    )

    @model_validator(mode="after")
    def _approvers_spelled_once(self) -> FirewallConfig:
        members = (member for group in self.approvers.values() for member in group)
        if problem := spelled_twice(members):
            raise ValueError(f"approvers: {problem}; one person would count twice")
        return self

    @model_validator(mode="after")
    def _unique_tool_names(self) -> FirewallConfig:
        names = [tool.name for tool in self.tools]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate tool names: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _credentials_declared(self) -> FirewallConfig:
        for tool in self.tools:
            if tool.credential is not None and tool.credential not in self.vault.credentials:
                raise ValueError(
                    f"tool {tool.name!r} needs credential {tool.credential!r},"
                    " which [vault.credentials] does not declare"
                )
        return self

    @model_validator(mode="after")
    def _budgets_count_money(self) -> FirewallConfig:
        money_args = {tool.name: tool.money_arg for tool in self.tools}
        for rule in self.budgets:
            if rule.tool != "*" and money_args.get(rule.tool) is None:
                raise ValueError(
                    f"budget for tool {rule.tool!r} needs a declared tool with a money_arg"
                )
        return self

    @model_validator(mode="after")
    def _totals_count_declared_tools(self) -> FirewallConfig:
        names = [total.name for total in self.totals]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate total names: {', '.join(duplicates)}")
        declared = {tool.name for tool in self.tools}
        for total in self.totals:
            unknown = sorted(set(total.tools) - declared)
            if unknown:
                listed = ", ".join(unknown)
                raise ValueError(f"total {total.name!r} counts undeclared tools: {listed}")
        return self

    def resolved(self, base: Path) -> FirewallConfig:
        """A copy with relative paths (policy dir, SQLite files) made relative to ``base``."""
        policy_dir = self.policy.dir if self.policy.dir.is_absolute() else base / self.policy.dir
        storage = self.storage.model_copy(
            update={
                "url": _resolve_sqlite(self.storage.url, base),
                "audit_url": _resolve_sqlite(self.storage.audit_url, base),
                "approvals_url": _resolve_sqlite(self.storage.approvals_url, base),
                "freeze_url": _resolve_sqlite(self.storage.freeze_url, base),
            }
        )
        policy = self.policy.model_copy(update={"dir": policy_dir.resolve()})
        vault = self.vault.model_copy(
            update={
                "secrets_file": _resolve_path(self.vault.secrets_file, base),
                "signing_key_file": _resolve_path(self.vault.signing_key_file, base),
            }
        )
        audit = self.audit.model_copy(
            update={
                "key_file": _resolve_path(self.audit.key_file, base),
                "checkpoint_dir": _resolve_path(self.audit.checkpoint_dir, base),
            }
        )
        return self.model_copy(
            update={"policy": policy, "storage": storage, "vault": vault, "audit": audit}
        )


def _resolve_path(path: Path | None, base: Path) -> Path | None:
    if path is None or path.is_absolute():
        return path
    return (base / path).resolve()


def _resolve_sqlite(url: str | None, base: Path) -> Any:
    prefix = "sqlite:///"
    if url is None or not url.startswith(prefix) or url == "sqlite:///:memory:":
        return url
    path = Path(url.removeprefix(prefix))
    return url if path.is_absolute() else prefix + str((base / path).resolve())


def _key_of(error: Any) -> str:
    parts = [str(part) for part in error["loc"]]
    key = ""
    for part in parts:
        key += f"[{part}]" if part.isdigit() else (f".{part}" if key else part)
    return key or "(root)"


def parse_config(data: dict[str, Any], base: Path = Path()) -> FirewallConfig:
    """Validate a configuration mapping; errors name the first wrong key."""
    try:
        config = FirewallConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(_key_of(first), first["msg"]) from exc
    return config.resolved(base)


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at ``path``; a missing or malformed file is a ConfigError naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(str(path), "file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from exc


def load_config(path: Path | str) -> FirewallConfig:
    """Read and validate a ``firewall.toml``."""
    path = Path(path)
    return parse_config(read_toml(path), path.parent.resolve())
