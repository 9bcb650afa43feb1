"""``POST /slack/events``: verify Slack's signature, then let the bolt app handle it.

The signature (v0 HMAC-SHA256 of ``v0:timestamp:body`` with the signing secret) is
checked here with ``slack_sdk.signature.SignatureVerifier``, which also refuses a
timestamp more than five minutes away (replays). Bolt checks it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from slack_bolt import BoltRequest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..slack import SlackApprovals

MAX_BODY_BYTES = 256 * 1024


def slack_route(slack: SlackApprovals) -> Route:
    """The Slack request URL route (events, interactivity)."""

    async def endpoint(request: Request) -> Response:
        verifier = slack.verifier
        if verifier is None:
            return _refused(404, "Slack runs in Socket Mode; there is no request URL")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _refused(413, "request too large")
        headers = dict(request.headers)
        if not verifier.is_valid_request(body, headers):
            return _refused(401, "invalid Slack signature or stale timestamp")
        bolt_request = BoltRequest(
            body=body.decode("utf-8"), query=str(request.query_params), headers=_multi(headers)
        )
        answer = await asyncio.to_thread(slack.app.dispatch, bolt_request)
        return Response(
            status_code=answer.status,
            content=answer.body,
            headers=answer.first_headers_without_set_cookie(),
        )

    return Route("/slack/events", endpoint, methods=["POST"])


def _multi(headers: dict[str, str]) -> dict[str, str | Sequence[str]]:
    return dict(headers)


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)
