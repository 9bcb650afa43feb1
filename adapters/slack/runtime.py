"""Everything Slack needs in the service process, assembled from ``[slack]`` settings."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from firewall.approvals.service import ApprovalService
from firewall.audit.read_only import AuditReader
from firewall.service_config import SlackCredentials, SlackSettings
from firewall.types import ToolSpec

from .app import build_bolt_app
from .card_store import SqlCardStore
from .cards import CardContext
from .decisions import DecisionHook, SlackDecisions
from .identity import SlackIdentities
from .sync import CardSync

API_TIMEOUT_S = 10


class SlackApprovals:
    """The Slack side of approvals: cards in sync with the store, and clicks decided."""

    def __init__(
        self,
        settings: SlackSettings,
        credentials: SlackCredentials,
        approvals: ApprovalService,
        audit: AuditReader,
        *,
        cards_url: str,
        tools: Sequence[ToolSpec],
        clock: Callable[[], datetime],
        on_decision: DecisionHook | None = None,
    ) -> None:
        self.settings = settings
        self.client = WebClient(
            token=credentials.bot_token.get_secret_value(),
            base_url=settings.api_url,
            timeout=API_TIMEOUT_S,
        )
        self.app_token = credentials.app_token
        secret = credentials.signing_secret
        self.signing_secret = secret.get_secret_value() if secret else None
        self.verifier = SignatureVerifier(self.signing_secret) if self.signing_secret else None
        self.clock = clock
        self.cards = SqlCardStore(cards_url)
        identities = SlackIdentities(settings.users)
        context = CardContext(identities, approvals.groups, _personal_args(tools))
        self.sync = CardSync(
            self.client,
            self.cards,
            approvals=approvals,
            audit=audit,
            settings=settings,
            context=context,
            clock=clock,
        )
        self.decisions = SlackDecisions(approvals, identities, on_decision)
        self.app: App = build_bolt_app(
            self.client,
            self.decisions,
            refresh=self.sync.refresh,
            tool_of=lambda hold_id: _tool_of(approvals, hold_id),
            channel_of=self._card_channel,
            signing_secret=self.signing_secret,
            settings=settings,
        )

    def _card_channel(self, hold_id: str) -> str | None:
        row = self.cards.get(hold_id)
        return row.channel if row else None

    def close(self) -> None:
        """Release the card store."""
        self.cards.close()


def _personal_args(tools: Sequence[ToolSpec]) -> Callable[[str], Collection[str]]:
    personal: Mapping[str, Collection[str]] = {tool.name: tool.personal_args for tool in tools}
    return lambda tool: personal.get(tool, ())


def _tool_of(approvals: ApprovalService, hold_id: str) -> str | None:
    record = approvals.get(hold_id)
    return record.tool if record else None
