"""Identities (agents, tenants, customers, operators, approvers, sessions): one spelling each.

An identity is accepted only as it is already spelled in its one canonical form; it is
never rewritten. Rewriting (full-width ``acme`` to ``acme``, ``alice`` + U+00A0 to
``alice``) would map a name that an upstream system treats as distinct onto someone
else's: a tenant registered as full-width ``acme`` would read acme's data. Refusing
keeps the check one-to-one: two accepted identities that differ look different.

The canonical form is RFC 8265 ``UsernameCasePreserved`` (PRECIS, via ``precis-i18n``)
for each word, words separated by single ASCII spaces: letters, digits, combining marks
and printable ASCII; no symbols, other punctuation, other spaces, compatibility variants
(full-width, ligatures, superscripts), invisible joiners or controls; composed (NFC); the
bidi rule. On top, from Unicode TS #39 (confusables data of ``confusable-homoglyphs``):
one script (or Latin with Han/kana/Bopomofo/Hangul), no non-ASCII letter of the Latin or
common script that looks like ASCII (U+0251 alpha, U+0131 dotless i), no name written
wholly in letters that look like ASCII (``alice`` in Cyrillic letters), and no
combining mark on an ASCII letter.

Case is kept, so ``U0ALICE`` (a Slack user id) stays as written. Where a look-alike
would *escape* a rule (self-approval, distinct approvers, per-agent budgets, freezes),
names are compared by :func:`identity_key`, which folds case and compatibility variants.
Where it would *gain* something (group membership, a tenant's data), they match exactly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import NoReturn

import precis_i18n
from confusable_homoglyphs import categories  # type: ignore[import-untyped]
from confusable_homoglyphs.utils import load  # type: ignore[import-untyped]

_PROFILE = precis_i18n.get_profile("UsernameCasePreserved")
_HOMOGLYPHS: dict[str, list[dict[str, str]]] = load("confusables.json")
_NEUTRAL = frozenset({"COMMON", "INHERITED"})
_LATIN_LIKE = frozenset({"LATIN", "COMMON", "INHERITED"})
_SCRIPT_MIXES = (  # UTS #39 "highly restrictive": the mixes CJK writing needs
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_PRECIS_REASONS = {
    "has_compat": "is a compatibility variant (a look-alike) of {plain!r}",
    "spaces": "is a space other than U+0020",
    "symbols": "is a symbol",
    "punctuation": "is punctuation outside ASCII",
    "bidi_rule": "breaks the bidi rule (right-to-left text mixed with left-to-right)",
}


def checked_identity(text: str) -> str:
    """``text`` if it is an identity in canonical form, else ValueError naming the character."""
    _check_spaces(text)
    offset = 0
    for word in text.split(" "):
        _check_precis(word, text, offset)
        offset += len(word) + 1
    _check_marks(text)
    _check_scripts(text)
    _check_lookalikes(text)
    return text


def identity_key(name: str) -> str:
    """The key under which look-alike spellings of one name meet (for refusing, never granting).

    Compatibility variants, case, spaces and invisible characters are folded away and
    letters that look like ASCII become that ASCII, so that ``ALICE``, ``alice`` with a
    no-break space, full-width ``alice`` and ``alice`` with a Cyrillic ``a`` share
    alice's key. Works on any string, including names stored before identities were
    checked.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    kept = (ch for ch in folded if not ch.isspace() and unicodedata.category(ch) != "Cf")
    return "".join(_ascii_look(ch) or ch for ch in kept)


def spelled_twice(names: Iterable[str]) -> str | None:
    """Why ``names`` cannot all be configured (two spellings of one name), or None.

    Two entries for one person would let them meet a quorum of two alone, or hold two
    REST tokens under two names.
    """
    seen: dict[str, str] = {}
    for name in sorted(set(names)):
        other = seen.setdefault(identity_key(name), name)
        if other != name:
            return (
                f"{other!r} and {name!r} are one name spelled twice (they differ only in"
                " case or look-alike characters)"
            )
    return None


def _describe(text: str, index: int) -> str:
    char = text[index]
    return f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED')} at {index}"


def _check_spaces(text: str) -> None:
    for index, char in enumerate(text):
        edge = index in (0, len(text) - 1) or text[index - 1] == " "
        if char == " " and edge:
            raise ValueError(
                f"has a leading, trailing or repeated space at {index};"
                " words of an identity are separated by single spaces"
            )


def _check_precis(word: str, text: str, offset: int) -> None:
    if not unicodedata.is_normalized("NFC", word):  # first, so PRECIS offsets match ``word``
        _refuse_changed(word, unicodedata.normalize("NFC", word), text, offset)
    try:
        canonical = _PROFILE.enforce(word)
    except UnicodeEncodeError as exc:
        kind = exc.reason.removeprefix("DISALLOWED/")
        index = offset + max(exc.start, 0)
        plain = unicodedata.normalize("NFKC", text[index])
        why = _PRECIS_REASONS.get(kind, "is not allowed in an identity ({kind})")
        raise ValueError(f"{_describe(text, index)} {why.format(plain=plain, kind=kind)}") from exc
    if canonical != word:
        _refuse_changed(word, canonical, text, offset)


def _refuse_changed(word: str, canonical: str, text: str, offset: int) -> NoReturn:
    index = offset + _first_change(word, canonical)
    spelled = text[:offset] + canonical + text[offset + len(word) :]
    raise ValueError(
        f"{_describe(text, index)} is not in canonical form (composed, half-width);"
        f" the identity is spelled {spelled!r}"
    )


def _first_change(word: str, canonical: str) -> int:
    index = next((i for i, (a, b) in enumerate(zip(word, canonical, strict=False)) if a != b), 0)
    while index + 1 < len(word) and word[index].isascii():  # name the mark, not its base
        index += 1
    return index


def _check_marks(text: str) -> None:
    for index, char in enumerate(text):
        if unicodedata.category(char) in ("Mn", "Me") and index and text[index - 1].isascii():
            base = text[index - 1]
            raise ValueError(f"{_describe(text, index)} puts a mark on the ASCII {base!r}")


def _check_scripts(text: str) -> None:
    scripts = {categories.alias(char) for char in text} - _NEUTRAL
    if len(scripts) <= 1 or any(scripts <= mix for mix in _SCRIPT_MIXES):
        return
    first = "LATIN" if "LATIN" in scripts else min(scripts)
    index = next(i for i, c in enumerate(text) if categories.alias(c) not in {first, *_NEUTRAL})
    other = categories.alias(text[index])
    raise ValueError(
        f"{_describe(text, index)} is {other.title()} in a {first.title()} identity;"
        " an identity is written in one script"
    )


def _check_lookalikes(text: str) -> None:
    for index, char in enumerate(text):
        look = _ascii_look(char)
        if look and categories.alias(char) in _LATIN_LIKE:
            raise ValueError(f"{_describe(text, index)} looks like the ASCII {look!r}")
    letters = [char for char in text if categories.alias(char) not in _NEUTRAL]
    if letters and all(_ascii_look(char) for char in letters):
        reading = "".join(_ascii_look(char) or char for char in text)
        raise ValueError(
            f"{text!r} is written wholly in letters that look like ASCII (it reads as"
            f" {reading!r}); {_describe(text, text.index(letters[0]))} is the first"
        )


def _ascii_look(char: str) -> str | None:
    """The ASCII text ``char`` (not ASCII itself) is confusable with, per UTS #39 data."""
    if char.isascii():
        return None
    looks = (glyph["c"] for glyph in _HOMOGLYPHS.get(char, ()))
    return next((look for look in looks if look.isascii() and look.isprintable()), None)
