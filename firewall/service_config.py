"""Settings of the approval service (``firewall serve``): the ``[service]`` and ``[slack]`` tables.

Secrets never live here: the Slack bot token, signing secret and app token are read
from environment variables named by :class:`SlackSettings`; REST bearer tokens are
stored only as SHA-256 digests (see :func:`hash_token`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, model_validator

from firewall.errors import ConfigError
from firewall.identity import spelled_twice
from firewall.types import Frozen, Identity

if TYPE_CHECKING:  # firewall.config holds these tables; it completes ServiceConfig on import
    from firewall.config import FirewallConfig

TOKENS_ENV = "FIREWALL_API_TOKENS"
TOKEN_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"  # noqa: S105 - a pattern, not a secret
SLACK_ID_PATTERN = r"^[A-Z0-9]{2,32}$"
MIN_TOKEN_CHARS = 32
MIN_TOKEN_DISTINCT = 10
AUTH_FAILURES_PER_MINUTE = 10
NEW_TOKEN_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105

TokenDigest = Annotated[str, Field(pattern=TOKEN_DIGEST_PATTERN)]
SlackId = Annotated[str, Field(pattern=SLACK_ID_PATTERN)]


def hash_token(token: str) -> str:
    """The digest under which a REST bearer token is configured: ``sha256:<hex>``.

    Only the digest is configured, so this is where a token's strength is checked: a
    short, repetitive or sequential token is refused (:class:`ConfigError`).
    """
    if problem := token_weakness(token):
        message = f"token too weak: {problem}; make one with {NEW_TOKEN_HINT}"
        raise ConfigError("service.tokens", message)
    return _digest(token)


def token_weakness(token: str) -> str | None:
    """Why ``token`` is too easy to guess, or None.

    A token made by a random generator passes; a short one, one with few different
    characters, runs or sequences (``aaaa``, ``1234``) or a repeated part does not.
    """
    if len(token) < MIN_TOKEN_CHARS:
        return f"{len(token)} characters, at least {MIN_TOKEN_CHARS} are needed"
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        return f"only {len(set(token))} different characters"
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in itertools.pairwise(token))
    if steps * 2 > len(token):
        return "it is made of runs or sequences of characters"
    grams = [token[i : i + 4] for i in range(len(token) - 3)]
    if len(set(grams)) * 10 < len(grams) * 9:
        return "parts of it repeat"
    return None


def _digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def approver_for_token(tokens: Mapping[str, str], token: str) -> str | None:
    """The approver whose token digest matches, compared in constant time; else None."""
    presented = _digest(token)
    owner = None
    for approver, digest in tokens.items():
        if hmac.compare_digest(presented, digest):
            owner = approver
    return owner


class SlackSettings(Frozen):
    """Where approval cards go, who is who in Slack, and where the credentials are."""

    channel: SlackId = Field(description="Channel id that receives approval cards.")
    group_channels: dict[str, SlackId] = Field(
        default_factory=dict, description="Approver group -> channel id, overriding `channel`."
    )
    users: dict[Identity, SlackId] = Field(
        default_factory=dict,
        description="Approver id (as in [approvers]) -> Slack user id. Group members that "
        "are not listed here are taken to be Slack user ids themselves.",
    )
    team_id: SlackId | None = Field(
        default=None, description="The workspace (team) id; requests from others are refused."
    )
    api_app_id: SlackId | None = Field(
        default=None, description="The Slack app id; requests for other apps are refused."
    )
    mode: Literal["http", "socket"] = "http"
    api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base.")
    # Names of environment variables, never the secrets themselves:
    bot_token_env: str = "SLACK_BOT_TOKEN"  # noqa: S105
    signing_secret_env: str = "SLACK_SIGNING_SECRET"  # noqa: S105
    app_token_env: str = "SLACK_APP_TOKEN"  # noqa: S105

    @model_validator(mode="after")
    def _one_slack_user_per_approver(self) -> SlackSettings:
        if problem := spelled_twice(self.users):
            raise ValueError(f"users: {problem}")
        slack_ids = list(self.users.values())
        if twice := sorted({i for i in slack_ids if slack_ids.count(i) > 1}):
            raise ValueError(f"users: Slack user {twice[0]} is mapped to two approver ids")
        return self

    def channel_for(self, group: str | None) -> str:
        """The channel that receives the cards of ``group``'s holds."""
        return self.group_channels.get(group or "", self.channel)

    def credentials(self) -> SlackCredentials:
        """Read the secrets from the environment; a missing one names its variable."""
        needed = {"bot_token": self.bot_token_env}
        needed["signing_secret" if self.mode == "http" else "app_token"] = (
            self.signing_secret_env if self.mode == "http" else self.app_token_env
        )
        values: dict[str, SecretStr] = {}
        for field, variable in needed.items():
            value = os.environ.get(variable, "")
            if not value:
                raise ConfigError(f"slack.{field}_env", f"environment variable {variable} is unset")
            values[field] = SecretStr(value)
        return SlackCredentials(**values)


class SlackCredentials(Frozen):
    """The Slack secrets, as :class:`SecretStr` so that they never print."""

    bot_token: SecretStr
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None


class ServiceSettings(Frozen):
    """How ``firewall serve`` listens, who may use its REST API, and how it syncs."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    tokens: dict[Identity, TokenDigest] = Field(
        default_factory=dict, description="Approver id -> sha256 digest of their bearer token."
    )
    redis_url: str | None = Field(default=None, description="Pub/sub for prompt wake-ups.")
    sync_interval_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    auth_failures_per_minute: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=AUTH_FAILURES_PER_MINUTE,
        description="Failed REST authentications a client may make per minute before all "
        "its requests are refused (429) until the minute has passed.",
    )


class ServiceConfig(Frozen):
    """Everything ``firewall serve`` needs: the firewall config plus the service tables.

    The tables are part of :class:`~firewall.config.FirewallConfig` (one file serves the
    agent, the service and the CLI); this is the service's view of them.
    """

    firewall: FirewallConfig
    service: ServiceSettings = ServiceSettings()
    slack: SlackSettings | None = None

    @model_validator(mode="after")
    def _token_owners_spelled_once(self) -> ServiceConfig:
        # checked here, not on the field, so that the error keeps naming service.tokens
        if problem := spelled_twice(self.service.tokens):
            raise ValueError(f"service.tokens: {problem}")
        return self

    def aliases(self) -> dict[str, str]:
        """Other names of approvers (their Slack user ids) -> their approver ids."""
        users = self.slack.users if self.slack else {}
        return {slack_id: approver for approver, slack_id in users.items()}


_tokens_adapter = TypeAdapter(dict[Identity, TokenDigest])


def tokens_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Extra REST token digests from ``$FIREWALL_API_TOKENS`` (JSON: approver -> digest)."""
    raw = environ.get(TOKENS_ENV)
    if not raw:
        return {}
    try:
        return _tokens_adapter.validate_python(json.loads(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = f"must map approver ids to 'sha256:<hex>' ({where}: {first['msg']})"
        raise ConfigError(f"${TOKENS_ENV}", message) from exc
    except ValueError as exc:
        raise ConfigError(f"${TOKENS_ENV}", "must map approver ids to 'sha256:<hex>'") from exc


def all_tokens(config: ServiceConfig, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The REST token digests of ``[service.tokens]`` and the environment (which wins)."""
    tokens = {**config.service.tokens, **tokens_from_env(environ)}
    if problem := spelled_twice(tokens):
        raise ConfigError(f"service.tokens and ${TOKENS_ENV}", problem)
    return tokens


def service_view(firewall: FirewallConfig) -> ServiceConfig:
    """The service's view of a firewall.toml: its ``[service]`` and ``[slack]`` tables."""
    return ServiceConfig(firewall=firewall, service=firewall.service, slack=firewall.slack)


def parse_service_config(data: dict[str, Any], base: Path = Path()) -> ServiceConfig:
    """Validate a firewall.toml mapping, ``[service]`` and ``[slack]`` included."""
    from firewall.config import parse_config  # noqa: PLC0415 - config imports this module

    return service_view(parse_config(data, base))


def load_service_config(path: Path | str) -> ServiceConfig:
    """Read a firewall.toml that may carry ``[service]`` and ``[slack]`` tables."""
    from firewall.config import load_config  # noqa: PLC0415 - config imports this module

    return service_view(load_config(path))
