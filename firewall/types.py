"""The contract: tool specs, principals, calls and the decisions the firewall returns.

Every type here is frozen. Decisions are data: a stage ends a call by returning a
:class:`Deny` (or the pipeline returns :class:`Allow` / :class:`Hold`), never by raising.
"""

from __future__ import annotations

import functools
import unicodedata
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import limits
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from firewall.canonical import digest
from firewall.identity import checked_identity
from firewall.pii.rules import PiiRule

TOOL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
SCOPE_PATTERN = r"^[a-z][a-z0-9_.-]*(:[a-z0-9_.*-]+)*$"
CREDENTIAL_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
CALL_ID_PATTERN = r"^[!-~]{1,128}$"
"""Printable ASCII: a call id is a lookup key in the audit and approval stores."""
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _printable(text: str) -> str:
    """``text`` if it has no control, format (zero-width, bidi) or unassigned characters.

    Identity fields reach Slack cards, audit listings and logs, where such characters
    hide or reorder text ("alice\u202e" shows as someone else) or forge lines.
    """
    bad = next((ch for ch in text if unicodedata.category(ch) in _UNPRINTABLE), None)
    if bad is not None:
        raise ValueError(f"has the unprintable character U+{ord(bad):04X} at {text.index(bad)}")
    return text


Identity = Annotated[
    str,
    Field(min_length=1, max_length=256),
    AfterValidator(_printable),
    AfterValidator(checked_identity),
]
"""An agent, tenant, customer, operator or session name, in its one canonical spelling.

Look-alikes (``alice`` with a no-break space, full-width or Cyrillic letters) are refused,
never rewritten: see :mod:`firewall.identity`.
"""


class Frozen(BaseModel):
    """Base of every wire type: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Risk(StrEnum):
    """How much damage a tool can do; policies and fail-closed rules key off it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def new_id(prefix: str) -> str:
    """A random, opaque identifier such as ``call_3f9c...``."""
    return f"{prefix}_{uuid.uuid4().hex}"


class ToolSpec(Frozen):
    """What the firewall knows about one tool."""

    name: Annotated[str, Field(pattern=TOOL_NAME_PATTERN)]
    scope: Annotated[str, Field(pattern=SCOPE_PATTERN)]
    description: str = ""
    risk: Risk = Risk.LOW
    args_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema the arguments must satisfy; None until adopted from the tool.",
    )
    money_arg: str | None = Field(
        default=None, description="Name of the argument that carries an amount of money."
    )
    money_precision: Annotated[int, Field(ge=0, le=2)] = Field(
        default=2,
        description="Decimal places an amount of money may have; a finer one is refused."
        " At most 2: budgets count whole cents (see firewall.numbers).",
    )
    personal_args: tuple[str, ...] = Field(
        default=(), description="Arguments holding personal data (never stored raw in audit)."
    )
    credential: Annotated[str, Field(pattern=CREDENTIAL_NAME_PATTERN)] | None = Field(
        default=None, description="Vault credential handed to the tool per call (by name)."
    )
    output_labels: tuple[str, ...] = Field(
        default=(), description="Labels the tool's output gives the session, e.g. 'untrusted'."
    )
    subject_arg: str | None = Field(
        default=None, description="Argument naming the customer a call is about (session rules)."
    )
    egress_args: tuple[str, ...] = Field(
        default=(),
        description="Arguments that choose where data goes (recipient, URL, payee): a value "
        "untrusted content could have chosen may not become one without a human.",
    )
    output_pii: PiiRule | None = Field(
        default=None,
        description="How personal data in the output is shown to the model (default: tokenize).",
    )

    def subject_of(self, args: dict[str, Any]) -> str | None:
        """The customer ``args`` are about, if the tool names a subject argument."""
        value = args.get(self.subject_arg) if self.subject_arg else None
        return str(value) if value is not None else None

    def policy_view(self) -> dict[str, Any]:
        """The tool as the policy sees it."""
        return {
            "name": self.name,
            "scope": self.scope,
            "risk": self.risk.value,
            "money_arg": self.money_arg,
            "egress_args": list(self.egress_args),
        }


class Principal(Frozen):
    """Who is calling: an agent, for a tenant, with scopes, maybe for a customer."""

    agent_id: Annotated[Identity, Field(max_length=128)]
    tenant: Annotated[Identity, Field(max_length=128)]
    scopes: frozenset[Identity] = frozenset()
    on_behalf_of: Identity | None = Field(
        default=None, description="The customer the agent acts for, e.g. 'customer:42'."
    )
    requested_by: Identity | None = Field(
        default=None,
        description="The human operator behind the agent session; may never approve its calls.",
    )

    def policy_view(self) -> dict[str, Any]:
        """The principal as the policy sees it (scopes sorted for stable input)."""
        return {
            "agent_id": self.agent_id,
            "tenant": self.tenant,
            "scopes": sorted(self.scopes),
            "on_behalf_of": self.on_behalf_of,
            "requested_by": self.requested_by,
        }


class CallKey(Frozen):
    """Where a call id names one call: a model chooses ids, so they are unique only here.

    Stores keyed by a call id key by this whole scope (and enforce it with a constraint),
    so one tenant's, conversation's or agent's ``call_1`` never meets another's.
    """

    tenant: str
    session_id: str
    agent_id: str
    call_id: str


class ToolCall(Frozen):
    """One call of one tool, as the agent asked for it.

    ``session_id`` names the conversation and has no default: calls of one session share
    its history and its personal-data tokens, so sessions are never shared by accident.
    """

    tool: str
    args: dict[str, Any]
    principal: Principal
    session_id: Identity
    call_id: Annotated[str, Field(pattern=CALL_ID_PATTERN)] = Field(
        default_factory=lambda: new_id("call")
    )

    @property
    def key(self) -> CallKey:
        """The scope in which this call's id is unique."""
        return CallKey(
            tenant=self.principal.tenant,
            session_id=self.session_id,
            agent_id=self.principal.agent_id,
            call_id=self.call_id,
        )

    def binding_digest(self) -> str:
        """Digest an approval binds to: tool, canonical args, principal and call id."""
        return digest(
            {
                "tool": self.tool,
                "args": self.args,
                "principal": self.principal.policy_view(),
                "call_id": self.call_id,
            }
        )


Per = Literal["agent", "tenant", "customer", "global"]
"""Whose calls share one rate-limit or budget bucket."""


def _limit_text(text: str) -> str:
    limits.parse(text)  # raises ValueError naming what it could not read
    return text


LimitText = Annotated[str, AfterValidator(_limit_text)]
"""A rate in ``limits`` notation, e.g. ``5/minute`` or ``100 per 2 hours``."""


@functools.lru_cache(maxsize=256)
def window_seconds(window: str) -> int:
    """Length of a window such as ``1 hour`` or ``2 days`` in seconds; ValueError if unreadable."""
    return int(limits.parse(f"1/{window}").get_expiry())


def _window_text(text: str) -> str:
    window_seconds(text)
    return text


WindowText = Annotated[str, AfterValidator(_window_text)]
"""A time window in ``limits`` granularity notation, e.g. ``1 hour`` or ``30 minutes``."""


class RateLimitObligation(Frozen):
    """A rate limit the policy puts on this call's tool, e.g. ``5/hour`` per customer."""

    per: Per = "agent"
    limit: LimitText


class BudgetObligation(Frozen):
    """A money budget the policy puts on this call's tool: ``amount`` per ``per`` per ``window``."""

    per: Per = "agent"
    amount: Annotated[float, Field(ge=0)]
    window: WindowText


class Obligations(Frozen):
    """What the policy asks of the firewall besides the outcome."""

    approvers: str | None = Field(default=None, description="Approver group of a hold.")
    quorum: Annotated[int, Field(ge=1, le=10)] = 1
    ttl_s: Annotated[int, Field(gt=0, le=7 * 24 * 3600)] | None = None
    redact: tuple[str, ...] = ()
    rate_limits: tuple[RateLimitObligation, ...] = ()
    budgets: tuple[BudgetObligation, ...] = ()


class Allow(Frozen):
    """Run the call."""

    kind: Literal["allow"] = "allow"
    call_id: str
    obligations: Obligations = Obligations()


class DenyCode(StrEnum):
    """Which check refused a call; stable, for programs and dashboards."""

    INVALID_CALL = "invalid_call"
    UNKNOWN_TOOL = "unknown_tool"
    INVALID_ARGS = "invalid_args"
    MISSING_SCOPE = "missing_scope"
    POLICY = "policy"
    POLICY_ERROR = "policy_error"
    RATE_LIMITED = "rate_limited"
    LIMITER_ERROR = "limiter_error"
    BUDGET_EXCEEDED = "budget_exceeded"
    FROZEN = "frozen"
    CREDENTIAL_ERROR = "credential_error"
    APPROVAL_DENIED = "approval_denied"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_MISMATCH = "approval_mismatch"
    APPROVAL_PENDING = "approval_pending"  # resolved before anyone decided; nothing released
    APPROVAL_USED = "approval_used"  # the approval already authorised its one run
    STORE_ERROR = "store_error"
    TOKEN_REFUSED = "token_refused"  # noqa: S105 - a code, not a secret
    INTERNAL_ERROR = "internal_error"


class Deny(Frozen):
    """Do not run the call; ``reasons`` are written for the agent to read."""

    kind: Literal["deny"] = "deny"
    call_id: str
    code: DenyCode
    reasons: tuple[str, ...]
    retry_after_s: float | None = None

    def message(self) -> str:
        """One line for the model: what was refused and why."""
        text = f"Tool call denied ({self.code.value}): " + "; ".join(self.reasons)
        if self.retry_after_s is not None:
            text += f" Retry after {self.retry_after_s:.0f}s."
        return text


class Hold(Frozen):
    """The call waits for a human decision."""

    kind: Literal["hold"] = "hold"
    call_id: str
    hold_id: str
    approvers: str | None
    quorum: int
    expires_at: datetime
    reasons: tuple[str, ...]
    redact: tuple[str, ...] = Field(
        default=(), description="Output fields the policy wants redacted once approved."
    )

    def message(self) -> str:
        """One line for the model while the call is pending."""
        return (
            f"Tool call pending approval {self.hold_id} (expires {self.expires_at.isoformat()}): "
            + "; ".join(self.reasons)
        )


Decision = Annotated[Allow | Deny | Hold, Field(discriminator="kind")]
