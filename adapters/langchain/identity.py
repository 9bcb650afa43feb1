"""One identity per tool call across re-runs: the thread, the model's message, its call id.

LangGraph re-runs a tools node on every resume, and retry middleware runs a call again:
each run must name the call the same way, so that it finds its decision (and its hold)
instead of deciding anew. The model's own id is that name where it is one; but models
send ``""`` (or no id), and some send ``call_1`` in every turn. So the firewall's id is
derived from the conversation as checkpointed: the model's id as sent when it is valid and
first used in this thread; the n-th message reusing it gets ``<id>~n``; an empty or
missing id gets a digest of the message (its id, else its position) and the call's place
in it. The answer always carries the id the model sent (its providers match by it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, BaseMessage

from firewall.types import CALL_ID_PATTERN, new_id

from .screen import reply_id as reply_id_of

_CALL_ID = re.compile(CALL_ID_PATTERN)
_MAX_ID = 128


def _digest_id(text: str) -> str:
    return "call_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _messages(request: ToolCallRequest) -> Sequence[BaseMessage]:
    state = request.state
    messages = state.get("messages") if isinstance(state, dict) else None
    return messages if isinstance(messages, list) else []


def _calls_of(message: BaseMessage) -> list[dict[str, Any]]:
    if not isinstance(message, AIMessage):
        return []
    return [dict(tc) for tc in message.tool_calls]


def _reuse_count(messages: Sequence[BaseMessage], given: str) -> int:
    """How many of the thread's model messages ask for a call with the id ``given``."""
    return sum(1 for m in messages if any(tc.get("id") == given for tc in _calls_of(m)))


def _same(sent: dict[str, Any], wanted: Any) -> bool:
    """Whether ``sent`` is the id-less call ``wanted`` (arguments too deep to compare: no)."""
    if sent.get("id") or sent.get("name") != wanted.get("name"):
        return False
    try:
        return bool(sent.get("args") == wanted.get("args"))
    except RecursionError:
        return False


def _asked(sent: dict[str, Any], wanted: Any) -> bool:
    """Whether the model's call ``sent`` is the call ``wanted`` (by its id, if it has one)."""
    given = wanted.get("id")
    return sent.get("id") == given if given else _same(sent, wanted)


def _place(request: ToolCallRequest, messages: Sequence[BaseMessage]) -> tuple[int, int] | None:
    """The latest model message asking for the call (its position), and the call's index."""
    for position in range(len(messages) - 1, -1, -1):
        for index, sent in enumerate(_calls_of(messages[position])):
            if _asked(sent, request.tool_call):
                return position, index
    return None


def _message_name(messages: Sequence[BaseMessage], position: int) -> str:
    return messages[position].id or f"#{position}"


def _anchor(request: ToolCallRequest, messages: Sequence[BaseMessage]) -> str | None:
    """Where a call without an id sits: the model message asking for it, and its place."""
    place = _place(request, messages)
    if place is None:
        return None
    return f"{_message_name(messages, place[0])}/{place[1]}"


def origin_of(request: ToolCallRequest) -> str | None:
    """The model message that asked for the call (its id, else its position), if known.

    A re-run of the call comes from the same message; a later message reusing the id is
    another call, even where an earlier message was trimmed from the thread.
    """
    messages = _messages(request)
    place = _place(request, messages)
    return None if place is None else _message_name(messages, place[0])


def call_id_of(request: ToolCallRequest) -> str:
    """The firewall's call id for the model's tool call, the same on every run of it."""
    given = request.tool_call.get("id")
    messages = _messages(request)
    if given is None or given == "":
        anchor = _anchor(request, messages)  # none: not in the thread, so never run again
        return new_id("call") if anchor is None else _digest_id("no id:" + anchor)
    text = reply_id_of(given)
    base = text if _CALL_ID.fullmatch(text) else _digest_id(text)
    uses = _reuse_count(messages, text) if isinstance(given, str) else 0
    if uses <= 1:
        return base
    suffix = f"~{uses}"
    return _digest_id(text + suffix) if len(base) + len(suffix) > _MAX_ID else base + suffix


def answer_id(request: ToolCallRequest, call_id: str) -> str:
    """The ``tool_call_id`` of the answer: the model's own id (``""`` too); if none, ours."""
    given = request.tool_call.get("id")
    return call_id if given is None else reply_id_of(given)
