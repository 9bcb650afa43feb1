"""Who is who: approver ids (as in ``[approvers]``) and Slack user ids."""

from __future__ import annotations

import re
from collections.abc import Mapping

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")


class SlackIdentities:
    """Maps Slack user ids to approver ids and back, from ``[slack.users]``.

    A Slack user that is not listed is known by their Slack user id, so groups may list
    Slack user ids directly. The Slack user id always comes from the verified request.
    """

    def __init__(self, users: Mapping[str, str]) -> None:
        self._slack_of = dict(users)
        self._approver_of = {slack_id: approver for approver, slack_id in users.items()}

    def approver_of(self, slack_user_id: str) -> str:
        """The approver id of the Slack user ``slack_user_id``."""
        return self._approver_of.get(slack_user_id, slack_user_id)

    def slack_id_of(self, approver: str) -> str | None:
        """The Slack user id of ``approver``, if known."""
        if approver in self._slack_of:
            return self._slack_of[approver]
        return approver if SLACK_USER_ID.match(approver) else None

    def mention(self, approver: str) -> str:
        """``<@U123>`` for a known Slack user, else the approver id as plain text."""
        slack_id = self.slack_id_of(approver)
        return f"<@{slack_id}>" if slack_id else approver

    def mentions(self, approvers: tuple[str, ...] | list[str]) -> str:
        """Several approvers, comma-separated, as mentions."""
        return ", ".join(self.mention(approver) for approver in approvers)
