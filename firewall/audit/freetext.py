"""Personal data in the free text of an audit event: found, and sealed like personal args.

Free text is whatever a person or a model wrote that the log keeps: the tool name as
asked for, arguments the tool does not declare personal, the decision's reasons (a
policy's, the gate's, an approver's repeated by the gate) and ``details`` (an approver's
deny reason, an error message, the policy input kept for replay). In it, the vault
replaces two kinds of text by a reference sealed under the data subject's key:

* **mentions**: the subject's id (``customer:c-100`` and ``c-100``) and the values of the
  personal arguments, wherever they are quoted;
* **detected personal data**: e-mail addresses, phone and card numbers, IBANs, national
  ids (see :class:`firewall.pii.detect.Detector`).

References, tokens and commitments already in the text are left as they are. Detail
fields that name the firewall's own things or its staff (hold ids, approver ids, times)
are not free text: they must stay readable after a customer is erased.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from firewall.pii.detect import Detector
from firewall.pii.protect import PROTECTED

SEALED_OR_MARKED = re.compile(rf"pd:s_[0-9a-f]{{32}}:[0-9a-f]{{64}}|{PROTECTED.pattern}")
"""References, tokens and commitments: text that is no longer personal data."""

STRUCTURAL_DETAILS = frozenset(
    {
        "approver", "approvers", "approvals", "decided_at", "decided_by", "expires_at",
        "hold_id", "hold_state", "policy_outcome", "quorum", "retry_after_s", "stage",
        "subject", "values_deleted", "old_key", "new_key",
    }
)  # fmt: skip
"""``details`` fields the firewall fills with its own identifiers, staff ids and times."""

MAYBE_DETECTED = re.compile(r"@|[A-Z]{2}\d{2}|[\d(+][\d .()+/-]{5,}\d")
"""A cheap superset of what the detector can find (an @, an IBAN's start, a run of 7+
digit-ish characters): text without it skips the detector, most text on the hot path."""

LOG_EVENTS = frozenset({"subject_erased", "key_rotated"})
"""Events the log writes itself: no free text, and the verifier reads their details."""

Reference = Callable[[str], str]


@functools.cache
def detector() -> Detector:
    """The shared detector (its recognizers are compiled once)."""
    return Detector()


class FreeText:
    """Finds and replaces personal data in the free-text fields of one event's data."""

    def __init__(self, mentions: Collection[str]) -> None:
        wanted = sorted(mentions, key=len, reverse=True)
        self._mentions = (
            re.compile("|".join(re.escape(mention) for mention in wanted)) if wanted else None
        )

    def personal_spans(self, text: str) -> list[tuple[int, int]]:
        """Non-overlapping ``(start, end)`` of mentions and detected data, in order."""
        mentions = self._mentions
        if not MAYBE_DETECTED.search(text) and (mentions is None or not mentions.search(text)):
            return []  # the hot path: most strings hold neither
        spans = []
        for start, end in _unmarked(text):
            spans += self._spans(text[start:end], start)
        return spans

    def has_personal_data(self, data: Mapping[str, Any]) -> bool:
        """Whether any free-text string of ``data`` holds personal data."""
        return any(self.personal_spans(text) for text in _strings(free_text_of(data)))

    def seal(self, data: dict[str, Any], reference: Reference) -> dict[str, Any]:
        """``data`` with the personal data in its free-text fields replaced by references."""
        if data.get("event") in LOG_EVENTS:
            return data
        references: dict[str, str] = {}

        def once(text: str) -> str:  # one sealed value per distinct text in a record
            if text not in references:
                references[text] = reference(text)
            return references[text]

        rewrite = functools.partial(self._rewrite, reference=once)
        sealed = dict(data)
        for name, value in free_text_of(data).items():
            rewritten = _map_strings(value, rewrite)
            if rewritten is value:
                continue
            if name == "args":
                sealed["args"] = {**data["args"], **rewritten}
            elif name == "details":
                sealed["details"] = {**data["details"], **rewritten}
            else:
                sealed[name] = rewritten
        return sealed

    def _rewrite(self, text: str, reference: Reference) -> str:
        spans = self.personal_spans(text)  # the same object back when nothing is personal
        if not spans:
            return text
        parts, cursor = [], 0
        for start, end in spans:
            parts += [text[cursor:start], reference(text[start:end])]
            cursor = end
        parts.append(text[cursor:])
        return "".join(parts)

    def _spans(self, text: str, offset: int) -> list[tuple[int, int]]:
        if not text:
            return []
        found = []
        if MAYBE_DETECTED.search(text):
            found = [(f.start, f.end) for f in detector().find(text)]
        if self._mentions is not None:
            found += [(m.start(), m.end()) for m in self._mentions.finditer(text)]
        return [(start + offset, end + offset) for start, end in _non_overlapping(found)]


def free_text_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The free-text parts of event ``data`` (tool, non-personal args, reasons, details)."""
    if data.get("event") in LOG_EVENTS:
        return {}
    parts: dict[str, Any] = {}
    if isinstance(data.get("tool"), str):
        parts["tool"] = data["tool"]
    if reasons := data.get("reasons"):
        parts["reasons"] = reasons
    args, personal = data.get("args"), set(data.get("personal_args") or ())
    if isinstance(args, dict):
        parts["args"] = {name: value for name, value in args.items() if name not in personal}
    details = data.get("details")
    if isinstance(details, dict):
        parts["details"] = {k: v for k, v in details.items() if k not in STRUCTURAL_DETAILS}
    return parts


def _unmarked(text: str) -> Iterator[tuple[int, int]]:
    """The ``(start, end)`` stretches of ``text`` between references, tokens, commitments."""
    cursor = 0
    for marker in SEALED_OR_MARKED.finditer(text):
        yield cursor, marker.start()
        cursor = marker.end()
    yield cursor, len(text)


def _non_overlapping(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Earliest first, then longest; a span overlapping one already taken is dropped."""
    taken: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda span: (span[0], span[0] - span[1])):
        if not taken or start >= taken[-1][1]:
            taken.append((start, end))
    return taken


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _map_strings(value: Any, rewrite: Callable[[str], str]) -> Any:
    """``value`` with every string inside it (not the keys) passed through ``rewrite``.

    A container none of whose strings changed is returned as it was (same object).
    """
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, Mapping):
        mapped = {key: _map_strings(item, rewrite) for key, item in value.items()}
        return value if all(mapped[key] is item for key, item in value.items()) else mapped
    if isinstance(value, list | tuple):
        items = [_map_strings(item, rewrite) for item in value]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    return value
