"""Credentials: secrets the agent never sees, per-call credentials and capability tokens.

A tool implementation asks for its credential while the firewall runs it::

    from firewall.credentials import current_credential

    token = current_credential().reveal()

Downstream services verify capability tokens with :mod:`firewall.credentials.verify`;
the names below are imported lazily, so that module loads nothing of the pipeline.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firewall.credentials.context import current_credential, handed_over
    from firewall.credentials.redaction import install_log_redaction, redact_secrets
    from firewall.credentials.secrets import EnvSecrets, FileSecrets, SecretProvider
    from firewall.credentials.vault import (
        CallCredential,
        CredentialError,
        CredentialSpec,
        CredentialVault,
        VaultSettings,
    )

_HOMES = {
    "current_credential": "context",
    "handed_over": "context",
    "install_log_redaction": "redaction",
    "redact_secrets": "redaction",
    "EnvSecrets": "secrets",
    "FileSecrets": "secrets",
    "SecretProvider": "secrets",
    "CallCredential": "vault",
    "CredentialError": "vault",
    "CredentialSpec": "vault",
    "CredentialVault": "vault",
    "VaultSettings": "vault",
}

__all__ = [
    "CallCredential",
    "CredentialError",
    "CredentialSpec",
    "CredentialVault",
    "EnvSecrets",
    "FileSecrets",
    "SecretProvider",
    "VaultSettings",
    "current_credential",
    "handed_over",
    "install_log_redaction",
    "redact_secrets",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'firewall.credentials' has no attribute {name!r}")
    return getattr(importlib.import_module(f"firewall.credentials.{home}"), name)
