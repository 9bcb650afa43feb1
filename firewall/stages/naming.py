"""Names the caller sent, quoted so a reader sees exactly what they were.

A tool name is text the model wrote: it may be megabytes long or hide characters that
look like others (U+0430 CYRILLIC SMALL LETTER A for a Latin 'a'), that are invisible
(zero-width space, joiner) or that reorder the text on screen (U+202E). A denial quotes
it escaped, cut to a readable length, with its non-ASCII characters named.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

MAX_QUOTED = 80
MAX_NAMED_CHARACTERS = 3
_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}


def quoted(text: str, limit: int = MAX_QUOTED) -> str:
    """``repr`` of ``text`` (control and format characters escaped), cut to ``limit``."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def describe_unknown_tool(name: str, known: Iterable[str]) -> str:
    """Why ``name`` is no known tool: the name quoted, its odd characters, a likely intent."""
    text = f"unknown tool {quoted(name)}"
    odd = _non_ascii(name)
    if odd:
        text += f" (its name has non-ASCII characters: {odd})"
    intended = [tool for tool in known if _skeleton(tool) == _skeleton(name) and tool != name]
    if intended:
        text += f"; did you mean {intended[0]!r}?"
    return text


def _non_ascii(name: str) -> str:
    found = list(dict.fromkeys(ch for ch in name[: MAX_QUOTED * 4] if not ch.isascii()))
    named = [f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}" for ch in found]
    if len(named) > MAX_NAMED_CHARACTERS:
        named = [*named[:MAX_NAMED_CHARACTERS], "..."]
    return ", ".join(named)


def _skeleton(name: str) -> str:
    """The name as a reader would likely take it: NFKC, no invisible characters, lower case."""
    if len(name) > MAX_QUOTED:
        return name
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch) not in _INVISIBLE)
