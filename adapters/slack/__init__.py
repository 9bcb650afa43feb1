"""Slack adapter: approval cards in a channel, decided with one click (extra ``[slack]``)."""

from .cards import APPROVE_ACTION, DENY_ACTION, DENY_MODAL, CardContext, card
from .identity import SlackIdentities
from .runtime import SlackApprovals

__all__ = [
    "APPROVE_ACTION",
    "DENY_ACTION",
    "DENY_MODAL",
    "CardContext",
    "SlackApprovals",
    "SlackIdentities",
    "card",
]
