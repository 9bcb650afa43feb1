"""Checking a Slack request before bolt sees it: signature, body, shape, workspace and app.

Every check answers with a :class:`Refusal` (an HTTP status and a message naming what was
wrong) instead of raising, so that nothing a client sends can reach the handlers in a
shape they do not expect, and nothing ends as a 500 with a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from firewall.service_config import SlackSettings

MAX_CLOCK_SKEW_S = 5 * 60
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")

Payload = dict[str, Any]


@dataclass(frozen=True)
class Refusal:
    """Why a request is not handled: the HTTP status to answer with, and a message."""

    status: int
    message: str


def verify_signature(
    body: bytes, headers: Mapping[str, str], secret: str, now: float
) -> Refusal | None:
    """Slack's v0 signature over the raw bytes, with a fresh timestamp; else a 401."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not TIMESTAMP.match(timestamp) or not SIGNATURE.match(signature):
        return Refusal(401, "missing or malformed Slack signature headers")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_S:
        return Refusal(401, "stale Slack request timestamp")
    signed = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        return Refusal(401, "invalid Slack signature")
    return None


def parse_payload(body: bytes, content_type: str) -> Payload | Refusal:
    """The request's payload object, read the way Slack sends it (JSON, or a form field)."""
    try:
        text = body.decode("utf-8")
        media_type = content_type.partition(";")[0].strip()
        if media_type == "application/json" or text.startswith("{"):
            payload = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
            if "payload" not in fields:
                return Refusal(400, "the form has no 'payload' field")
            payload = json.loads(fields["payload"])
    except UnicodeDecodeError:
        return Refusal(400, "the body is not UTF-8")
    except ValueError:
        return Refusal(400, "the payload is not JSON")
    if not isinstance(payload, dict):
        return Refusal(400, "the payload is not a JSON object")
    return payload


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _User(_Shape):
    id: Annotated[StrictStr, Field(pattern=SLACK_ID.pattern)]


class _Action(_Shape):
    action_id: Annotated[StrictStr, Field(max_length=255)]
    value: Annotated[StrictStr, Field(max_length=2000)]


class _BlockActions(_Shape):
    type: Literal["block_actions"]
    user: _User
    trigger_id: Annotated[StrictStr, Field(max_length=255)]
    actions: Annotated[list[_Action], Field(min_length=1, max_length=25)]


class _Input(_Shape):
    value: StrictStr | None = None


class _State(_Shape):
    values: dict[str, dict[str, _Input]]


class _View(_Shape):
    callback_id: StrictStr
    private_metadata: Annotated[StrictStr, Field(max_length=3000)]
    state: _State = _State(values={})


class _ViewSubmission(_Shape):
    type: Literal["view_submission"]
    user: _User
    view: _View


class _UrlVerification(_Shape):
    type: Literal["url_verification"]
    challenge: Annotated[StrictStr, Field(max_length=255)]


SHAPES: dict[str, type[_Shape]] = {
    "block_actions": _BlockActions,
    "view_submission": _ViewSubmission,
    "url_verification": _UrlVerification,
}


def check_shape(payload: Payload) -> Refusal | None:
    """A 400 unless ``payload`` is one of the kinds this app handles, shaped as Slack sends it."""
    kind = payload.get("type")
    shape = SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        return Refusal(400, f"unsupported payload type (supported: {', '.join(SHAPES)})")
    try:
        shape.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(payload)"
        return Refusal(400, f"malformed {kind} payload: {where}: {first['msg']}")
    return None


def check_origin(payload: Payload, settings: SlackSettings) -> Refusal | None:
    """A 403 unless the request comes from the configured workspace and app (if pinned)."""
    if payload.get("type") == "url_verification":
        return None  # Slack's handshake when the request URL is set; it decides nothing
    if settings.team_id is not None:
        teams = _team_ids(payload)
        if not teams or teams != {settings.team_id}:
            return Refusal(403, "the request comes from another Slack workspace")
    if settings.api_app_id is not None and payload.get("api_app_id") != settings.api_app_id:
        return Refusal(403, "the request is for another Slack app")
    return None


def _team_ids(payload: Payload) -> set[object]:
    """Every workspace id the payload names (all must be ours)."""
    found: set[object] = set()
    for holder, key in (
        (payload.get("team"), "id"),
        (payload.get("user"), "team_id"),
        (payload.get("view"), "team_id"),
        (payload, "team_id"),
    ):
        if isinstance(holder, dict) and holder.get(key) is not None:
            found.add(holder[key])
    return found


def vet(payload: Payload, settings: SlackSettings) -> Refusal | None:
    """Shape first, then origin: the first reason to refuse, or None."""
    return check_shape(payload) or check_origin(payload, settings)
