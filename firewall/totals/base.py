"""Running totals: how much of a quantity calls have already used, kept by the firewall.

A *total* (``[[totals]]`` in firewall.toml) sums one quantity over every call of some
tools that shares a key: the amount refunded per order, per customer, per tenant. The
policy sees the current tally of each total the call counts against as trusted input
(``input.context.totals``); the agent never supplies it.

Amounts are whole cents (the tools' ``money_arg``, see :mod:`firewall.numbers`); a tool
without a ``money_arg`` adds 0 cents and one call, so a total can bound a count as well.

A reservation adds a call's amount to every total it counts against, all or none, and
only if each total is still the tally the policy decided on (compare-and-reserve):
concurrent calls on one key are decided one after another, never both on the old tally.
It is then in one of three states, like a budget reservation
(:mod:`firewall.containment.budgets`):

- **reserved**: counted, from the moment the totals stage admits the call;
- **spent**: counted for good, once the tool may have started (:meth:`TotalsStore.commit`);
- **released**: no longer counted. Only the gate releases, only for a call that provably
  never ran, and only the reservation's owner (the hold that decides it, or UNHELD).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

from pydantic import Field

from firewall.types import TOOL_NAME_PATTERN, Frozen

TOTAL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_FIELD = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
KEY_PATTERN = rf"^(tenant|arg:{_FIELD}|fact:{_FIELD}(\.{_FIELD}){{0,7}})$"
ToolName = Annotated[str, Field(pattern=TOOL_NAME_PATTERN)]
RECORD_TTL_S = 8 * 24 * 3600
"""How long a reservation's record lives: longer than any hold may wait (7 days)."""


class TotalRule(Frozen):
    """One running total: the money of calls of ``tools`` per value of ``by``.

    ``by`` is ``tenant``, ``arg:<name>`` (an argument's value as the tool receives it) or
    ``fact:<path>`` (a trusted fact, e.g. ``fact:order.customer_id``). Every key is
    scoped to the caller's tenant.
    """

    name: Annotated[str, Field(pattern=TOTAL_NAME_PATTERN)]
    tools: Annotated[tuple[ToolName, ...], Field(min_length=1)]
    by: Annotated[str, Field(pattern=KEY_PATTERN)]

    def applies_to(self, tool: str) -> bool:
        """Whether calls of ``tool`` count against this total."""
        return tool in self.tools


@dataclass(frozen=True)
class Tally:
    """A total's value: ``cents`` over ``calls`` calls (reserved and spent)."""

    cents: int = 0
    calls: int = 0


@dataclass(frozen=True)
class Entry:
    """One total a reservation adds to: ``key``, ``cents``, and the tally the policy saw."""

    key: str
    cents: int
    seen: Tally


@dataclass(frozen=True)
class Reserved:
    """A reservation's answer; ``changed`` is the key whose tally moved since it was read."""

    admitted: bool
    duplicate: bool = False
    changed: str | None = None


class TotalsStore(Protocol):
    """Where totals and reservations live: process memory, or Redis for every worker."""

    where: str

    def read(self, keys: Sequence[str]) -> list[Tally]:
        """The tally of each key (zero if never used)."""
        ...

    def reserve(self, reservation_id: str, entries: Sequence[Entry], *, owner: str) -> Reserved:
        """Add every entry's cents and one call, if every tally is still ``seen``; a known
        reservation id is refused as duplicate."""
        ...

    def commit(self, reservation_id: str, *, owner: str) -> bool:
        """Mark the reservation spent (it can no longer be released); False if not reserved
        by ``owner``."""
        ...

    def release(self, reservation_id: str, *, owner: str) -> bool:
        """Take back a reservation still reserved by ``owner``; False (nothing changed) if not."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
