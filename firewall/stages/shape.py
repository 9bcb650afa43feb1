"""A cheap look at the shape of call arguments before anything recurses into them."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from firewall.stages.naming import quoted

MAX_DEPTH = 64
"""How deep arguments may nest (the arguments object is level 1).

The canonical encoder, the JSON Schema validator, the policy input builder and the audit
serialiser all recurse (pydantic's serialiser gives up near 250 levels), so deeper
arguments would be refused by whichever of them happened to fail first, or crash it.
"""


def shape_problem(
    args: Mapping[str, Any],
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int | None = None,
    what: str = "argument",
) -> str | None:
    """Why ``args`` cannot be encoded within the limits, found without recursion; else None.

    Walks at most about ``max_bytes`` nodes: every JSON value takes at least one byte and
    a string at least its length, so once that lower bound passes ``max_bytes`` the
    arguments are oversized before they are encoded (this also stops values that share
    one sub-list many times over, whose encoding would be exponentially long). ``what``
    names an entry of ``args`` in the answer.
    """
    limit = sys.maxsize if max_bytes is None else max_bytes
    pending: list[tuple[Any, int, str]] = [(value, 2, name) for name, value in args.items()]
    at_least = _keys_length(args)
    while pending and at_least <= limit:
        item, depth, name = pending.pop()
        at_least += 1
        if isinstance(item, str):
            at_least += len(item)
            continue
        if not isinstance(item, Mapping | list | tuple):
            continue
        if depth > max_depth:
            return f"{what} {quoted(name)} nests more than {max_depth} levels deep"
        at_least += len(item) + (_keys_length(item) if isinstance(item, Mapping) else 0)
        if at_least <= limit:
            children = item.values() if isinstance(item, Mapping) else item
            pending.extend((child, depth + 1, name) for child in children)
    if at_least > limit:
        return f"{what}s are over the {limit}-byte limit"
    return None


def _keys_length(mapping: Mapping[Any, Any]) -> int:
    return sum(len(key) if isinstance(key, str) else 1 for key in mapping)
