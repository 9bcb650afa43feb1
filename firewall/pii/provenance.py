"""Where the values in a call's arguments came from, as the policy sees it.

``input.tokens[<token>]``: the token's kind and every tool whose output showed its value,
with those outputs' labels. ``input.arg_sources[<arg>]``: the tokens inside one argument,
their sources combined, and whether the argument also holds something the agent typed
itself (text outside tokens, a number): a value of unknown origin. Only tokens, tool names
and labels go in, never a value, so the view is as safe to log as the tokens themselves.

Both share one shape, ``{tools, labels, sources: {label: [tools]}}`` (like
``input.session.sources``), so a rule reads "which tool put the untrusted label on this"
the same way for a session, a token or an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from firewall.pii.tokens import TOKEN, Provenance, TokenSource

ProvenanceLookup = Callable[[str], Provenance]
"""The provenance of a token valid in the call's scope (raises TokenError otherwise)."""


def provenance_view(args: Mapping[str, Any], lookup: ProvenanceLookup) -> dict[str, Any]:
    """``{"tokens": ..., "arg_sources": ...}`` for the policy input of a call with ``args``."""
    tokens: dict[str, dict[str, Any]] = {}
    arg_sources: dict[str, dict[str, Any]] = {}
    for name, value in args.items():
        found = list(dict.fromkeys(tokens_in(value)))
        combined: set[TokenSource] = set()
        for token in found:
            provenance = lookup(token)
            combined |= provenance
            tokens.setdefault(token, {"kind": _kind(token), **sources_view(provenance)})
        arg_sources[name] = {"tokens": found, "typed": typed(value), **sources_view(combined)}
    return {"tokens": tokens, "arg_sources": arg_sources}


def sources_view(sources: Iterable[TokenSource]) -> dict[str, Any]:
    """Tools, labels, and which tools gave each label (all sorted, for stable input)."""
    tools: set[str] = set()
    by_label: dict[str, set[str]] = {}
    for source in sources:
        tools.add(source.tool)
        for label in source.labels:
            by_label.setdefault(label, set()).add(source.tool)
    return {
        "tools": sorted(tools),
        "labels": sorted(by_label),
        "sources": {label: sorted(by_label[label]) for label in sorted(by_label)},
    }


def tokens_in(value: Any) -> Iterator[str]:
    """Every token in a JSON-like value, in order of appearance."""
    if isinstance(value, str):
        yield from (match.group() for match in TOKEN.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from tokens_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from tokens_in(item)


def typed(value: Any) -> bool:
    """Whether ``value`` holds anything besides tokens: text, numbers, booleans.

    Such content came from the model, which may have copied it from anything it read
    (a URL is not personal data, so an untrusted page's URL reaches it in clear).
    """
    if value is None:
        return False
    if isinstance(value, str):
        return TOKEN.sub("", value).strip() != ""
    if isinstance(value, Mapping):
        return any(typed(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(typed(item) for item in value)
    return True


def _kind(token: str) -> str:
    match = TOKEN.fullmatch(token)
    return match.group(1) if match else ""
