"""``firewall.identity``: the one accepted spelling of a name, and the key look-alikes share."""

from __future__ import annotations

import re

import pytest

from firewall.identity import checked_identity, identity_key, spelled_twice


@pytest.mark.parametrize(
    "name",
    [
        "tanaka\u7530\u4e2d",
        "\u7530\u4e2d\u305f\u306a\u304b",
        "\u05e9\u05dc\u05d5\u05dd",
        "a.b-c_d+e",
    ],
)
def test_one_script_or_a_cjk_mix_with_latin_is_accepted(name: str) -> None:
    assert checked_identity(name) == name


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("\u0391\u0392\u0395", "reads as 'ABE'"),  # Greek letters only, all ASCII look-alikes
        ("I\u015f\u0131k", "U+0131 LATIN SMALL LETTER DOTLESS I at 2"),
        ("abc\u05d0", "bidi rule"),
        ("alice\u2713", "U+2713 CHECK MARK at 5 is a symbol"),
    ],
)
def test_refusals_name_what_is_wrong(name: str, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        checked_identity(name)


def test_look_alike_spellings_share_one_key() -> None:
    spellings = ["ALICE", "alice\u00a0", "\uff41\uff4c\uff49\uff43\uff45", "\u0430lice", "Alice"]
    assert {identity_key(name) for name in spellings} == {identity_key("alice")}
    assert identity_key("alice") != identity_key("alicia")


def test_two_spellings_of_one_name_are_reported_together() -> None:
    problem = spelled_twice(["carol", "alice", "Alice"])
    assert problem is not None
    assert "'Alice' and 'alice'" in problem
    assert spelled_twice(["alice", "carol", "alice"]) is None
