"""Keeps Slack in step with the approval store: post new holds, update, reply with outcomes.

The agent process never talks to Slack; the service runs :meth:`CardSync.sync_all` on a
timer (and :meth:`CardSync.refresh` right after a click), reading the shared store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.service import ApprovalService
from firewall.audit.read_only import AuditReader
from firewall.errors import FirewallError
from firewall.service_config import SlackSettings

from .card_store import CardRow, SqlCardStore
from .cards import CardContext, card, outcome_text, slack_date

log = structlog.get_logger("firewall.slack")
STALE_CLAIM = timedelta(seconds=30)
FINAL_STATES = frozenset({HoldState.DENIED, HoldState.EXPIRED})
SLACK_ERRORS = (SlackApiError, SlackClientError, OSError)


class CardSync:
    """Posts, updates and completes the approval cards of holds."""

    def __init__(
        self,
        client: WebClient,
        cards: SqlCardStore,
        *,
        approvals: ApprovalService,
        audit: AuditReader,
        settings: SlackSettings,
        context: CardContext,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._cards = cards
        self._approvals = approvals
        self._audit = audit
        self._settings = settings
        self._context = context
        self._clock = clock

    def sync_all(self) -> None:
        """Post a card for every new pending hold; bring every open card up to date."""
        open_rows = self._cards.open_cards()
        carded = {row.hold_id for row in open_rows}  # a pending hold's card is never done
        for record in self._approvals.pending():
            if record.hold_id in carded:
                continue
            if self._cards.claim(record.hold_id, self._channel(record), self._clock()):
                self._post(record)
        for row in open_rows:
            self._sync(row)

    def refresh(self, hold_id: str) -> None:
        """Bring one hold's card up to date (after a click, without waiting for the timer)."""
        row = self._cards.get(hold_id)
        if row is not None:
            self._sync(row)

    def _sync(self, row: CardRow) -> None:
        record = self._approvals.get(row.hold_id)
        if record is None:
            return
        if row.ts is None:
            if self._clock() - row.claimed_at > STALE_CLAIM and self._cards.reclaim(
                row, self._clock()
            ):
                self._post(record)
            return
        if record.version > row.shown_version and self._update(row, record):
            row = self._cards.get(row.hold_id) or row
        if record.state is HoldState.EXECUTED and not row.outcome_posted:
            self._reply_outcome(row, record)
        elif record.state in FINAL_STATES and row.shown_version >= record.version:
            self._cards.mark_done(row.hold_id)

    def _post(self, record: HoldRecord) -> None:
        text, blocks = card(record, self._context)
        try:
            response = self._client.chat_postMessage(
                channel=self._channel(record), text=text, blocks=blocks
            )
        except SLACK_ERRORS as exc:
            log.warning("slack_post_failed", hold_id=record.hold_id, error=_describe(exc))
            return
        self._cards.posted(record.hold_id, str(response["ts"]), record.version)
        log.info("slack_card_posted", hold_id=record.hold_id)

    def _update(self, row: CardRow, record: HoldRecord) -> bool:
        if row.ts is None or not self._cards.claim_version(row, record.version):
            return False
        text, blocks = card(record, self._context)
        try:
            self._client.chat_update(channel=row.channel, ts=row.ts, text=text, blocks=blocks)
        except SLACK_ERRORS as exc:
            log.warning("slack_update_failed", hold_id=record.hold_id, error=_describe(exc))
            self._cards.release_version(row.hold_id, record.version, row.shown_version)
            return False
        return True

    def _reply_outcome(self, row: CardRow, record: HoldRecord) -> None:
        try:
            # The call id is the model's: other tenants' and sessions' calls may share it.
            outcomes = [
                r
                for r in self._audit.records_for_call(record.call_id)
                if r.event == "outcome" and r.details.get("hold_id") == record.hold_id
            ]
        except FirewallError as exc:
            log.warning("slack_outcome_unreadable", hold_id=record.hold_id, error=str(exc))
            return
        if not outcomes:
            return  # the tool is still running
        outcome = outcomes[-1]
        at = slack_date(datetime.fromisoformat(outcome.time))
        error = outcome.details.get("error")
        text = outcome_text(record, outcome.outcome or "error", error, at)
        if not self._cards.claim_outcome(row.hold_id):
            return  # another worker (or the click handler) is replying
        try:
            self._client.chat_postMessage(channel=row.channel, thread_ts=row.ts, text=text)
        except SLACK_ERRORS as exc:
            log.warning("slack_reply_failed", hold_id=record.hold_id, error=_describe(exc))
            self._cards.release_outcome(row.hold_id)
            return
        self._cards.mark_done(row.hold_id)

    def _channel(self, record: HoldRecord) -> str:
        return self._settings.channel_for(record.approvers)


def _describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return f"SlackApiError: {exc.response.get('error', 'unknown')}"
    return type(exc).__name__
