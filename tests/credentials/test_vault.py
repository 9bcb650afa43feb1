"""The vault: per-call credentials bound to one call, short-lived, never shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from freezegun import freeze_time
from pydantic import SecretStr, ValidationError

from firewall.credentials.redaction import SecretRegistry
from firewall.credentials.secrets import EnvSecrets
from firewall.credentials.tokens import CapabilityMinter, SigningKey
from firewall.credentials.vault import (
    CredentialError,
    CredentialSpec,
    CredentialVault,
    VaultSettings,
)
from firewall.errors import ConfigError
from firewall.types import Principal, Risk, ToolCall, ToolSpec

SECRET = "crm-token-5a1d7c"
REFUND = ToolSpec(
    name="issue_refund",
    scope="refunds:write",
    risk=Risk.HIGH,
    money_arg="amount",
    credential="payments",
)
LOOKUP = ToolSpec(name="crm_lookup", scope="crm:read", credential="crm")
PLAIN = ToolSpec(name="weather", scope="weather:read")
CALL = ToolCall(
    tool="crm_lookup",
    args={"customer_id": "c-1"},
    principal=Principal(agent_id="a", tenant="t"),
    session_id="s-1",
)


def vault(environ: dict[str, str] | None = None, **kwargs: object) -> CredentialVault:
    credentials = {"crm": CredentialSpec(secret="env:CRM_TOKEN")}
    providers = {"env": EnvSecrets({"CRM_TOKEN": SECRET} if environ is None else environ)}
    return CredentialVault(credentials, providers=providers, **kwargs)  # type: ignore[arg-type]


def test_issued_credential_is_bound_to_the_call_and_tool() -> None:
    credential = vault().issue(CALL, LOOKUP)
    assert credential is not None
    assert (credential.name, credential.tool, credential.scope) == ("crm", "crm_lookup", "crm:read")
    assert credential.call_id == CALL.call_id
    assert credential.reveal() == SECRET
    assert credential.capability_token is None


def test_credential_never_shows_its_secret() -> None:
    credential = vault().issue(CALL, LOOKUP)
    assert credential is not None
    for shown in (repr(credential), str(credential), credential.model_dump_json()):
        assert SECRET not in shown
    assert SECRET not in str(credential.model_dump(mode="json"))


def test_tools_without_a_credential_get_none() -> None:
    assert vault().issue(CALL, PLAIN) is None


def test_credential_expires_after_its_ttl() -> None:
    with freeze_time("2026-03-01 12:00:00") as clock:
        credential = vault().issue(CALL, LOOKUP)
        assert credential is not None
        assert credential.expires_at == datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
        clock.tick(timedelta(seconds=60))
        with pytest.raises(CredentialError, match="expired at"):
            credential.reveal()


def test_missing_secret_names_where_it_was_looked_for() -> None:
    with pytest.raises(CredentialError) as caught:
        vault({}).issue(CALL, LOOKUP)
    assert str(caught.value) == (
        "credential 'crm' is unavailable: environment variable CRM_TOKEN is not set"
    )


def test_a_failing_provider_is_named_without_its_error_text() -> None:
    class Exploding(EnvSecrets):
        def get(self, name: str) -> SecretStr | None:
            raise OSError(f"cannot read {SECRET}")

    credentials = {"crm": CredentialSpec(secret="env:CRM_TOKEN")}
    broken = CredentialVault(credentials, providers={"env": Exploding()})
    with pytest.raises(CredentialError) as caught:
        broken.issue(CALL, LOOKUP)
    assert "environment variable CRM_TOKEN could not be read (OSError)" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None


def test_issued_secrets_are_remembered_for_redaction() -> None:
    registry = SecretRegistry()
    vault(registry=registry).issue(CALL, LOOKUP)
    assert registry.redact(f"token={SECRET}") == "token=[REDACTED]"


def test_capability_credentials_carry_a_token() -> None:
    key = SigningKey.generate()
    credentials = {"payments": CredentialSpec(secret="env:PAY", capability=True, ttl_s=30)}
    minting = CredentialVault(
        credentials,
        providers={"env": EnvSecrets({"PAY": "pay-key-1234"})},
        minter=CapabilityMinter(key),
    )
    call = CALL.model_copy(update={"tool": "issue_refund", "args": {"amount": 90}})
    credential = minting.issue(call, REFUND)
    assert credential is not None
    assert jwt.get_unverified_header(credential.token())["typ"] == "fw-capability+jwt"
    assert credential.token() not in repr(credential)


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"no secret provider 'aws' \(known: env\)"):
        CredentialVault({"crm": CredentialSpec(secret="aws:crm")})


def test_capability_without_signing_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="signing_key_file"):
        CredentialVault({"crm": CredentialSpec(secret="env:X", capability=True)})


def test_tools_must_name_declared_credentials() -> None:
    with pytest.raises(ConfigError, match="'payments' is not declared"):
        vault().check_tools([LOOKUP, REFUND])


def test_secret_references_are_validated() -> None:
    with pytest.raises(ValidationError, match="secret"):
        CredentialSpec(secret="just-a-literal-secret")


def test_settings_build_file_provider_and_minter(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text(f'crm = "{SECRET}"\n', encoding="utf-8")
    settings = VaultSettings(
        secrets_file=tmp_path / "secrets.toml",
        signing_key_file=tmp_path / "keys" / "capability.pem",
        create_signing_key=True,
        credentials={"crm": CredentialSpec(secret="file:crm", capability=True)},
    )
    built = CredentialVault.from_settings(settings)
    credential = built.issue(CALL, LOOKUP)
    assert credential is not None
    assert credential.reveal() == SECRET
    assert jwt.get_unverified_header(credential.token())["typ"] == "fw-capability+jwt"
    assert (tmp_path / "keys" / "capability.pem.pub").exists()
