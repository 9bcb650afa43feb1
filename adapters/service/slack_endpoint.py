"""``POST /slack/events``: check the request, then let the bolt app handle it.

Before bolt sees a request it must pass, in order: a body under the cap (refused from
``Content-Length``, or once a chunked stream passes it, before it is read in full); Slack's
v0 signature over the raw bytes with a timestamp at most five minutes old (401); a UTF-8,
JSON payload of a kind this app handles, in the shape Slack sends it (400); the pinned
workspace and app (403). An exact replay of a request already handled (same signature)
is acknowledged and dropped: nothing is decided or sent twice. Bolt checks the signature
again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import structlog
from slack_bolt import BoltRequest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from firewall.errors import FirewallError

from ..slack import SlackApprovals
from ..slack.requests import Refusal, parse_payload, verify_signature, vet
from .bodies import BodyRefusedError, read_capped
from .metrics import ServiceMetrics

log = structlog.get_logger("firewall.service")
MAX_BODY_BYTES = 256 * 1024


def slack_route(slack: SlackApprovals, metrics: ServiceMetrics | None = None) -> Route:
    """The Slack request URL route (events, interactivity); refusals counted in ``metrics``."""

    def _refused(refusal: Refusal) -> JSONResponse:
        if metrics is not None:
            metrics.slack_refusals.labels(status=str(refusal.status)).inc()
        if refusal.status >= 403:
            log.warning("slack_request_refused", status=refusal.status, reason=refusal.message)
        return JSONResponse({"error": refusal.message}, refusal.status)

    async def endpoint(request: Request) -> Response:
        secret = slack.signing_secret
        if secret is None:
            return _refused(Refusal(404, "Slack runs in Socket Mode; there is no request URL"))
        try:
            body = await read_capped(request, MAX_BODY_BYTES)
        except BodyRefusedError as exc:
            return _refused(Refusal(exc.status, exc.message))
        headers = dict(request.headers)
        checked = _checked(slack, body, headers, secret)
        if isinstance(checked, Refusal):
            return _refused(checked)
        first_time = await asyncio.to_thread(_first_time, slack, headers["x-slack-signature"])
        if first_time is None:
            return _refused(Refusal(503, "the service cannot check for replays; try again"))
        if not first_time:
            log.info("slack_replay_ignored")
            if metrics is not None:
                metrics.slack_replays.inc()
            return Response(status_code=200)
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


def _checked(
    slack: SlackApprovals, body: bytes, headers: dict[str, str], secret: str
) -> Refusal | None:
    refusal = verify_signature(body, headers, secret, time.time())
    if refusal is not None:
        return refusal
    payload = parse_payload(body, headers.get("content-type", ""))
    if isinstance(payload, Refusal):
        return payload
    return vet(payload, slack.settings)


def _first_time(slack: SlackApprovals, signature: str) -> bool | None:
    """Whether this signed request is new; None if the store cannot say (refused: 503)."""
    try:
        return slack.cards.first_seen(signature, slack.clock())
    except FirewallError as exc:
        log.warning("slack_replay_check_failed", error=str(exc))
        return None


def _multi(headers: dict[str, str]) -> dict[str, str | Sequence[str]]:
    return dict(headers)
