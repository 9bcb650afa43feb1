"""``Totals``: the configured totals of one firewall over one store, as the gate uses them.

Keys are scoped to the caller's tenant and hide the value they count by (a customer id
is personal data): ``<total name>:<digest of (name, tenant, by, value)>``. The value is
the argument the tool receives (``arg:``) or the trusted fact (``fact:``), never a token
and never something the agent says about itself (agent, session, on_behalf_of).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog

from firewall.canonical import canonical_json, sha256_hex
from firewall.containment.budgets import to_minor_units
from firewall.identity import identity_key
from firewall.numbers import money_problem
from firewall.stages.base import CallContext
from firewall.totals.base import Entry, Tally, TotalRule, TotalsStore
from firewall.totals.memory import MemoryTotals
from firewall.types import Deny, DenyCode, ToolCall

log = structlog.get_logger("firewall.totals")


@dataclass(frozen=True)
class Seen:
    """What the policy was shown of one total: its key and tally, or why it has no key."""

    key: str | None
    tally: Tally = field(default_factory=Tally)
    problem: str = ""


def reservation_of(call: ToolCall) -> str:
    """The totals reservation id of ``call``: tenant, session, agent, call id and tool.

    The tool is part of it, so a call of another tool reusing the id can never release
    this one; a call of the same tool reusing it is refused as a duplicate.
    """
    scope = [
        call.principal.tenant, call.session_id, call.principal.agent_id, call.call_id, call.tool
    ]  # fmt: skip
    return "t" + sha256_hex(canonical_json(scope))[:40]


class Totals:
    """The ``[[totals]]`` rules over their store: read for the policy, reserve, release."""

    def __init__(self, rules: Iterable[TotalRule] = (), store: TotalsStore | None = None) -> None:
        self.rules = tuple(rules)
        self.store: TotalsStore = store or MemoryTotals()
        self.where = self.store.where

    def applies(self, tool: str) -> bool:
        """Whether any total counts calls of ``tool``."""
        return any(rule.applies_to(tool) for rule in self.rules)

    def look(self, ctx: CallContext) -> dict[str, Any]:
        """Read this call's totals into ``ctx.totals_seen``; return their policy view.

        A store that cannot answer raises.
        """
        rules = [rule for rule in self.rules if rule.applies_to(ctx.call.tool)]
        seen = {rule.name: _keyed(rule, ctx) for rule in rules}
        keyed = [name for name, item in seen.items() if item.key is not None]
        tallies = self.store.read([seen[name].key or "" for name in keyed]) if keyed else []
        for name, tally in zip(keyed, tallies, strict=True):
            seen[name] = Seen(seen[name].key, tally)
        ctx.totals_seen = seen
        return {name: _view(item) for name, item in seen.items()}

    def entries(self, ctx: CallContext) -> list[Entry] | Deny:
        """What reserving this call adds, against the tallies the policy saw."""
        if ctx.totals_seen is None:  # a pipeline whose policy stage reads no totals
            return ctx.deny(DenyCode.INTERNAL_ERROR, "the policy decided without its totals")
        cents = _amount(ctx)
        if isinstance(cents, Deny):
            return cents
        entries = []
        for name, item in ctx.totals_seen.items():
            if item.key is None:
                return ctx.deny(DenyCode.INVALID_CALL, f"total {name!r}: {item.problem}")
            entries.append(Entry(item.key, cents, item.tally))
        return entries

    def commit(self, call: ToolCall, owner: str) -> None:
        """The tool starts: its reservation is spent (failures only logged: it stays counted)."""
        if not self.applies(call.tool):
            return
        try:
            self.store.commit(reservation_of(call), owner=owner)
        except Exception as exc:  # reserved still counts; only a never-run call releases it
            log.exception("totals_commit_failed", call_id=call.call_id, error=type(exc).__name__)

    def release(self, call: ToolCall, owner: str) -> None:
        """Give back what ``owner`` reserved for ``call``, which never ran (failures: kept)."""
        if not self.applies(call.tool):
            return
        try:
            self.store.release(reservation_of(call), owner=owner)
        except Exception as exc:  # it stays counted: the safe side
            log.exception("totals_release_failed", call_id=call.call_id, error=type(exc).__name__)

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()


def _keyed(rule: TotalRule, ctx: CallContext) -> Seen:
    value = _value_of(rule.by, ctx)
    problem = _key_problem(value)
    if problem is not None:
        return Seen(None, problem=f"counts by {rule.by!r}, which {problem}; call refused")
    tenant = identity_key(ctx.call.principal.tenant)
    digest = sha256_hex(canonical_json([rule.name, tenant, rule.by, value]))[:40]
    return Seen(f"{rule.name}:{digest}")


def _key_problem(value: Any) -> str | None:
    if value is None:
        return "this call lacks"
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"is {type(value).__name__} for this call, not a string or integer"
    if value == "":
        return "is empty for this call"
    return None


def _value_of(by: str, ctx: CallContext) -> Any:
    if by == "tenant":
        return identity_key(ctx.call.principal.tenant)
    kind, _, path = by.partition(":")
    if kind == "arg":
        return ctx.call_for_lookups().args.get(path)
    found: Any = ctx.trusted_facts
    for part in path.split("."):
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


def _view(item: Seen) -> dict[str, Any] | None:
    if item.key is None:
        return None
    cents = item.tally.cents
    amount = Decimal(cents) / 100
    shown: int | float = int(amount) if cents % 100 == 0 else float(amount)
    return {"cents": cents, "amount": shown, "calls": item.tally.calls}


def _amount(ctx: CallContext) -> int | Deny:
    """The call's money in cents (0 for a tool without ``money_arg``: it counts calls)."""
    spec = ctx.tool_spec
    if spec.money_arg is None:
        return 0
    amount = ctx.call_for_lookups().args.get(spec.money_arg)
    problem = money_problem(amount, spec.money_precision)
    if problem is not None:
        reason = f"field {spec.money_arg!r} (counted amount) {problem}"
        return ctx.deny(DenyCode.INVALID_ARGS, reason)
    return to_minor_units(amount)
