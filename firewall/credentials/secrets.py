"""Where service secrets come from: environment variables, a secrets file, or your own provider.

A credential names its secret by reference, ``<provider>:<name>`` (``env:CRM_API_TOKEN``,
``file:payments_key``); plug a secret manager in as another provider. Values travel as
``SecretStr``, whose ``repr``, ``str`` and JSON form never show them.
"""

from __future__ import annotations

import json
import os
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from firewall.errors import ConfigError

SECRET_REF_PATTERN = r"^[a-z][a-z0-9_+-]*:[A-Za-z0-9_./-]+$"  # noqa: S105 - a pattern


class SecretProvider(Protocol):
    """Looks secrets up by name; ``describe`` says where, for errors (never the value)."""

    def get(self, name: str) -> SecretStr | None:
        """The secret ``name``, or None if this provider has no such secret."""
        ...

    def describe(self, name: str) -> str:
        """Where ``name`` would be found, e.g. ``environment variable CRM_API_TOKEN``."""
        ...


class EnvSecrets:
    """Secrets from environment variables, read at each lookup (so rotation needs no restart)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def get(self, name: str) -> SecretStr | None:
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(name)
        return SecretStr(value) if value else None

    def describe(self, name: str) -> str:
        return f"environment variable {name}"


class FileSecrets:
    """Secrets from a TOML or JSON file mapping names to strings, re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._values: dict[str, str] = {}

    def get(self, name: str) -> SecretStr | None:
        value = self._load().get(name)
        return SecretStr(value) if value else None

    def describe(self, name: str) -> str:
        return f"key {name!r} of secrets file {self.path}"

    def _load(self) -> dict[str, str]:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._values = _parse_secrets(self.path)
                self._stamp = stamp
            return self._values


def _parse_secrets(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except ValueError:  # never chain: the parser error keeps the file text
        raise ConfigError(str(path), f"secrets file is not valid {path.suffix[1:]}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError(str(path), "secrets file must map names to strings")
    return {str(key): value for key, value in data.items()}


def split_ref(ref: str) -> tuple[str, str]:
    """``env:CRM_TOKEN`` -> ``("env", "CRM_TOKEN")``."""
    provider, _, name = ref.partition(":")
    return provider, name
