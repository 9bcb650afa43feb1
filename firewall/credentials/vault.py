"""The vault: service secrets stay on the firewall's side; a tool gets a per-call credential.

A tool declares the credential it needs (``ToolSpec.credential``); after the decision
(and after approval, for held calls) the gate asks :meth:`CredentialVault.issue` for a
:class:`CallCredential` bound to that call and hands it to the tool implementation
(see :func:`firewall.credentials.current_credential`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr

from firewall.credentials.redaction import KNOWN_SECRETS, SecretRegistry
from firewall.credentials.secrets import (
    SECRET_REF_PATTERN,
    EnvSecrets,
    FileSecrets,
    SecretProvider,
    split_ref,
)
from firewall.credentials.tokens import CapabilityMinter, SigningKey
from firewall.errors import ConfigError, FirewallError
from firewall.types import CREDENTIAL_NAME_PATTERN, Frozen, ToolCall, ToolSpec

CredentialName = Annotated[str, Field(pattern=CREDENTIAL_NAME_PATTERN)]


class CredentialError(FirewallError):
    """A credential could not be issued or used; the message names it, never its value."""


class CredentialSpec(Frozen):
    """One service credential: where its secret lives; whether calls also get a token."""

    secret: Annotated[str, Field(pattern=SECRET_REF_PATTERN)] = Field(
        description="Reference to the secret: 'env:NAME', 'file:NAME' or '<provider>:NAME'."
    )
    capability: bool = Field(
        default=False, description="Also mint a per-call capability token (needs a signing key)."
    )
    audience: str | None = Field(default=None, description="The token's 'aud'; default: the name.")
    ttl_s: Annotated[int, Field(gt=0, le=3600)] = 60


class VaultSettings(Frozen):
    """The ``[vault]`` table: secrets file, token signing key, and the credentials."""

    secrets_file: Path | None = None
    signing_key_file: Path | None = None
    create_signing_key: bool = False
    credentials: dict[CredentialName, CredentialSpec] = Field(default_factory=dict)


class CallCredential(Frozen):
    """The credential of one call of one tool; its repr and JSON never show the secret."""

    name: str
    tool: str
    scope: str
    call_id: str
    issued_at: datetime
    expires_at: datetime
    secret: SecretStr
    capability_token: SecretStr | None = None

    def reveal(self) -> str:
        """The service secret, for the request the tool is about to make."""
        self._check_fresh()
        return self.secret.get_secret_value()

    def token(self) -> str:
        """The capability token for the downstream service (if the credential mints one)."""
        self._check_fresh()
        if self.capability_token is None:
            raise CredentialError(f"credential {self.name!r} mints no capability token")
        return self.capability_token.get_secret_value()

    def _check_fresh(self) -> None:
        if datetime.now(UTC) >= self.expires_at:
            raise CredentialError(
                f"credential {self.name!r} of call {self.call_id} expired at"
                f" {self.expires_at.isoformat()}"
            )


class CredentialVault:
    """Resolves credentials through secret providers and mints per-call credentials."""

    def __init__(
        self,
        credentials: Mapping[str, CredentialSpec] | None = None,
        *,
        providers: Mapping[str, SecretProvider] | None = None,
        minter: CapabilityMinter | None = None,
        registry: SecretRegistry = KNOWN_SECRETS,
    ) -> None:
        self.credentials = dict(credentials or {})
        self.providers: dict[str, SecretProvider] = {"env": EnvSecrets(), **(providers or {})}
        self.minter = minter
        self.registry = registry
        for name, spec in self.credentials.items():
            self._check_spec(name, spec)

    @classmethod
    def from_settings(cls, settings: VaultSettings) -> CredentialVault:
        """The vault the ``[vault]`` table describes."""
        providers: dict[str, SecretProvider] = {}
        if settings.secrets_file is not None:
            providers["file"] = FileSecrets(settings.secrets_file)
        minter = None
        if settings.signing_key_file is not None:
            key = SigningKey.load(settings.signing_key_file, create=settings.create_signing_key)
            minter = CapabilityMinter(key)
        return cls(settings.credentials, providers=providers, minter=minter)

    def check_tools(self, tools: Iterable[ToolSpec]) -> None:
        """Every credential a tool declares must be configured (ConfigError otherwise)."""
        for spec in tools:
            if spec.credential is not None and spec.credential not in self.credentials:
                raise ConfigError(
                    f"tools.{spec.name}.credential",
                    f"credential {spec.credential!r} is not declared in [vault.credentials]",
                )

    def issue(self, call: ToolCall, spec: ToolSpec) -> CallCredential | None:
        """The credential for this call of ``spec``'s tool; None if it declares none."""
        if spec.credential is None:
            return None
        name = spec.credential
        config = self.credentials.get(name)
        if config is None:
            raise CredentialError(f"credential {name!r} is not declared in the vault")
        secret = self._secret(name, config)
        now = datetime.now(UTC)
        token = None
        if config.capability and self.minter is not None:
            minted, _ = self.minter.mint(
                call, spec, audience=config.audience or name, ttl_s=config.ttl_s
            )
            token = SecretStr(minted)
        return CallCredential(
            name=name,
            tool=spec.name,
            scope=spec.scope,
            call_id=call.call_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=config.ttl_s),
            secret=secret,
            capability_token=token,
        )

    def _secret(self, name: str, config: CredentialSpec) -> SecretStr:
        return self.secret_of(config.secret, f"credential {name!r}")

    def secret_of(self, reference: str, what: str) -> SecretStr:
        """The secret ``reference`` names (``env:NAME``...), kept out of logs from now on."""
        scheme, ref = split_ref(reference)
        provider = self.providers.get(scheme)
        if provider is None:
            raise CredentialError(f"{what}: no secret provider {scheme!r}")
        try:
            secret = provider.get(ref)
        except Exception as exc:  # noqa: BLE001 - say where, never what
            raise CredentialError(
                f"{what}: {provider.describe(ref)} could not be read ({type(exc).__name__})"
            ) from None
        if secret is None:
            raise CredentialError(f"{what} is unavailable: {provider.describe(ref)} is not set")
        self.registry.remember(secret.get_secret_value())
        return secret

    def _check_spec(self, name: str, spec: CredentialSpec) -> None:
        scheme, _ = split_ref(spec.secret)
        if scheme not in self.providers:
            known = ", ".join(sorted(self.providers))
            raise ConfigError(
                f"vault.credentials.{name}.secret",
                f"no secret provider {scheme!r} (known: {known})",
            )
        if spec.capability and self.minter is None:
            raise ConfigError(
                f"vault.credentials.{name}.capability",
                "capability tokens need [vault] signing_key_file",
            )
