"""The tools the firewall knows, with their compiled argument validators."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

from firewall.declared import closed
from firewall.errors import ConfigError
from firewall.types import ToolSpec

ANY_OBJECT: dict[str, Any] = {"type": "object"}


def _compile(spec: ToolSpec) -> Validator:
    """The validator of ``spec``'s schema, nested objects closed (see firewall.declared)."""
    schema = spec.args_schema if spec.args_schema is not None else ANY_OBJECT
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"tools.{spec.name}.args_schema", exc.message) from exc
    return cls(closed(schema))


class ToolRegistry(Mapping[str, ToolSpec]):
    """Tool specs by name. A spec without an args schema may adopt one (from LangChain)."""

    def __init__(self, tools: Iterable[ToolSpec]) -> None:
        self._specs: dict[str, ToolSpec] = {}
        self._validators: dict[str, Validator] = {}
        for spec in tools:
            if spec.name in self._specs:
                raise ConfigError(f"tools.{spec.name}", "tool declared twice")
            self._put(spec)

    def _put(self, spec: ToolSpec) -> None:
        self._validators[spec.name] = _compile(spec)
        self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> ToolSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def validator(self, name: str) -> Validator:
        """The compiled JSON Schema validator of a registered tool."""
        return self._validators[name]

    def adopt_schema(self, name: str, schema: Mapping[str, Any]) -> ToolSpec:
        """Give ``name`` the tool's own args schema, unless its spec already declares one."""
        if name not in self._specs:
            raise ConfigError(f"tools.{name}", "tool is not declared in the firewall config")
        spec = self._specs[name]
        if spec.args_schema is None:
            spec = spec.model_copy(update={"args_schema": dict(schema)})
            self._put(spec)
        return spec
