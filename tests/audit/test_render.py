"""Rendering: personal-data references opened for operators, or marked erased."""

from __future__ import annotations

from typing import Any

from firewall.audit.render import reveal_references
from firewall.audit.vault import SubjectKey, seal_value

KEY = SubjectKey.generate("customer:c-100")
KNOWN = seal_value(KEY, "c-100").reference
ERASED = seal_value(SubjectKey.generate("customer:c-200"), "c-200").reference


def reveal(reference: str) -> tuple[bool, Any]:
    return (True, "c-100") if reference == KNOWN else (False, None)


def test_whole_and_quoted_references_are_opened_or_marked_erased() -> None:
    shown = reveal_references(
        {"args": {"customer_id": KNOWN, "other": ERASED}, "reasons": [f"acts for '{KNOWN}'"]},
        reveal,
    )
    assert shown == {
        "args": {"customer_id": "c-100", "other": "[erased]"},
        "reasons": ["acts for 'c-100'"],
    }
