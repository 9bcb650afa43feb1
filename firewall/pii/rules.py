"""How personal data is treated on its way to the model: modes and per-tool rules."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from firewall.pii.detect import PiiKind


class PiiMode(StrEnum):
    """What happens to a piece of personal data on its way to the model."""

    REDACT = "redact"  # [EMAIL]
    MASK = "mask"  # a***@example.com, **** 1111
    HASH = "hash"  # <EMAIL#3f9a0c1b> (stable, irreversible)
    TOKENIZE = "tokenize"  # <EMAIL_3f9a0c1b2d4e> (reversible within the session)
    KEEP = "keep"


class PiiRule(BaseModel):
    """How one tool's output is protected: a default mode, per-field and per-kind modes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: PiiMode = PiiMode.TOKENIZE
    fields: dict[str, PiiMode] = Field(
        default_factory=dict, description="Output fields that are personal as a whole."
    )
    kinds: dict[PiiKind, PiiMode] = Field(default_factory=dict)

    def mode_for(self, kind: PiiKind) -> PiiMode:
        """The mode for a detected kind."""
        return self.kinds.get(kind, self.mode)

    def with_redacted(self, fields: tuple[str, ...]) -> PiiRule:
        """This rule with ``fields`` redacted whole (a policy's ``redact`` obligation)."""
        if not fields:
            return self
        return self.model_copy(
            update={"fields": {**self.fields, **dict.fromkeys(fields, PiiMode.REDACT)}}
        )


class PiiSettings(BaseModel):
    """``[pii]``: the default output rule and how long the model's tokens stay valid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: PiiRule = PiiRule()
    token_ttl_s: float = Field(default=3600.0, gt=0, le=7 * 24 * 3600)
    token_key: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*:.+$",
        description="Secret reference (env:NAME, file:NAME) to the 64-hex-digit key that"
        " encrypts token values in a shared vault ([storage] tokens_url).",
    )
