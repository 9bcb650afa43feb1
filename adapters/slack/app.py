"""The slack-bolt app: Approve / Deny clicks and the deny-reason modal.

The approver is always ``body["user"]["id"]`` of a request whose signature was verified
(HTTP mode) or that came over the app's own Socket Mode connection. A click is
acknowledged only after its decision is durable; the card update follows at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltResponse
from slack_sdk import WebClient

from firewall.service_config import SlackSettings

from .cards import APPROVE_ACTION, DENY_ACTION, DENY_MODAL, REASON_BLOCK, REASON_INPUT, deny_modal
from .decisions import Outcome, SlackDecisions
from .requests import vet
from .sync import SLACK_ERRORS

log = structlog.get_logger("firewall.slack")

Body = dict[str, Any]


def build_bolt_app(
    client: WebClient,
    decisions: SlackDecisions,
    *,
    refresh: Callable[[str], None],
    tool_of: Callable[[str], str | None],
    channel_of: Callable[[str], str | None],
    signing_secret: str | None,
    settings: SlackSettings,
) -> App:
    """A bolt ``App`` deciding holds; ``signing_secret=None`` only for Socket Mode."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        token_verification_enabled=False,
        ssl_check_enabled=False,
        url_verification_enabled=True,
    )
    app.middleware(_vetted(settings))
    handlers = _Handlers(client, decisions, refresh, tool_of, channel_of)
    app.action(APPROVE_ACTION)(handlers.approve)
    app.action(DENY_ACTION)(handlers.open_deny_modal)
    app.view(DENY_MODAL)(handlers.deny)
    return app


def _vetted(settings: SlackSettings) -> Callable[..., BoltResponse | None]:
    """Refuse a payload of the wrong shape, workspace or app before any listener runs.

    The HTTP endpoint checks this before dispatching; Socket Mode requests arrive here only.
    """

    def middleware(body: Body, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        refusal = vet(body, settings)
        if refusal is not None:
            log.warning("slack_request_refused", status=refusal.status, reason=refusal.message)
            return BoltResponse(status=refusal.status, body=refusal.message)
        return next()

    return middleware


class _Handlers:
    def __init__(
        self,
        client: WebClient,
        decisions: SlackDecisions,
        refresh: Callable[[str], None],
        tool_of: Callable[[str], str | None],
        channel_of: Callable[[str], str | None],
    ) -> None:
        self._client = client
        self._decisions = decisions
        self._refresh = refresh
        self._tool_of = tool_of
        self._channel_of = channel_of

    def approve(self, ack: Ack, body: Body, action: Body) -> None:
        hold_id, user = str(action["value"]), str(body["user"]["id"])
        outcome = self._decisions.approve(hold_id, user)
        ack()
        self._follow_up(outcome, hold_id, user, _channel(body))

    def open_deny_modal(self, ack: Ack, body: Body, action: Body) -> None:
        hold_id = str(action["value"])
        ack()
        tool = self._tool_of(hold_id) or "this call"
        try:
            self._client.views_open(trigger_id=body["trigger_id"], view=deny_modal(hold_id, tool))
        except SLACK_ERRORS as exc:
            log.warning("slack_modal_failed", hold_id=hold_id, error=type(exc).__name__)

    def deny(self, ack: Ack, body: Body, view: Body) -> None:
        hold_id, user = str(view["private_metadata"]), str(body["user"]["id"])
        field = view.get("state", {}).get("values", {}).get(REASON_BLOCK, {})
        reason = field.get(REASON_INPUT, {}).get("value")
        outcome = self._decisions.deny(hold_id, user, reason)
        ack()
        self._follow_up(outcome, hold_id, user, self._channel_of(hold_id))

    def _follow_up(self, outcome: Outcome, hold_id: str, user: str, channel: str | None) -> None:
        if outcome.refusal is not None:
            self._tell(channel, user, outcome.refusal)
            return
        try:
            self._refresh(hold_id)
        except Exception:
            log.exception("slack_refresh_failed", hold_id=hold_id)

    def _tell(self, channel: str | None, user: str, text: str) -> None:
        if channel is None:
            log.warning("slack_refusal_undelivered", user=user)
            return
        try:
            self._client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SLACK_ERRORS as exc:
            log.warning("slack_ephemeral_failed", error=type(exc).__name__)


def _channel(body: Body) -> str | None:
    channel = body.get("channel") or {}
    container = body.get("container") or {}
    value = channel.get("id") or container.get("channel_id")
    return str(value) if value else None
