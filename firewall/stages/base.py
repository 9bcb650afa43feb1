"""The stage contract: one small object, one job, ends a call by returning a Deny."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from firewall.types import Deny, DenyCode, ToolCall, ToolSpec, new_id

if TYPE_CHECKING:
    from firewall.policy.document import DecisionDocument
    from firewall.totals.control import Seen


@dataclass
class CallContext:
    """What the stages learn about one call as it goes through the pipeline."""

    call: ToolCall
    spec: ToolSpec | None = None
    policy: DecisionDocument | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    trusted_facts: Mapping[str, Any] = field(default_factory=dict)  # as looked up: keys totals
    totals_seen: dict[str, Seen] | None = None  # the running totals the policy was shown
    args_json: bytes = b""
    stage: str = ""
    restored_args: dict[str, Any] | None = None  # tokens resolved: for the tool and facts
    policy_args: dict[str, Any] | None = None  # personal data committed: for policy and audit
    provenance: dict[str, Any] | None = None  # input.tokens and input.arg_sources
    policy_input: dict[str, Any] | None = None  # the document the policy saw
    policy_capture: dict[str, Any] | None = None  # what the audit log keeps of it, for replay
    settled_hold: dict[str, Any] | None = None  # the decided hold this decision resolves
    # The id a hold placed by this decision takes; chosen up front so that the budget
    # reservation can name the hold as the only one who may release it.
    hold_id: str = field(default_factory=lambda: new_id("hold"))

    def call_for_lookups(self) -> ToolCall:
        """The call with real values, for trusted lookups (facts) that need them."""
        if self.restored_args is None or self.restored_args == self.call.args:
            return self.call
        return self.call.model_copy(update={"args": self.restored_args})

    def deny(self, code: DenyCode, *reasons: str, retry_after_s: float | None = None) -> Deny:
        """A denial of this call."""
        return Deny(
            call_id=self.call.call_id, code=code, reasons=reasons, retry_after_s=retry_after_s
        )

    @property
    def tool_spec(self) -> ToolSpec:
        """The resolved tool spec; only valid after the known-tool stage passed."""
        if self.spec is None:
            raise RuntimeError("tool spec requested before the known-tool stage ran")
        return self.spec


class Stage(Protocol):
    """One check of the pipeline. ``None`` lets the call through to the next stage."""

    name: str

    def check(self, ctx: CallContext) -> Deny | None:
        """Inspect (and enrich) ``ctx``; return a Deny to end the call."""
        ...
