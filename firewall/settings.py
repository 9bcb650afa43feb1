"""Settings of the gate itself (the ``[holds]`` table of firewall.toml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from firewall.types import Frozen


class GateSettings(Frozen):
    """How the gate treats held calls."""

    hold_mode: Literal["wait", "return"] = "wait"
    hold_ttl_s: Annotated[int, Field(gt=0, le=7 * 24 * 3600)] = 900
    default_approvers: str = "supervisors"
    notify_url: str | None = Field(
        default=None,
        description="Redis URL on which decisions are announced (the service's "
        "[service] redis_url): a waiting agent wakes at once instead of at its next poll.",
    )
