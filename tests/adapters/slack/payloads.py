"""Signed Slack requests in Slack's documented formats (block_actions, view_submission)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret-8f14e45f"
CHANNEL = "C0APPROVALS"
TEAM = {"id": "T0ACME", "domain": "acme"}
APP_ID = "A0FIREWALL"


def signed(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Headers of a request signed with Slack's v0 scheme."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def form(payload: dict[str, Any]) -> str:
    """The form body Slack posts interactivity payloads in."""
    return urlencode({"payload": json.dumps(payload)})


def block_action(user_id: str, action_id: str, hold_id: str, message_ts: str) -> dict[str, Any]:
    """A ``block_actions`` payload: ``user_id`` clicked a button on the card at ``message_ts``."""
    return {
        "type": "block_actions",
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": TEAM["id"],
        },
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": CHANNEL,
            "is_ephemeral": False,
        },
        "trigger_id": f"1234.5678.{user_id}",
        "team": TEAM,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": CHANNEL, "name": "approvals"},
        "message": {"type": "message", "ts": message_ts, "text": "Approval needed"},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.invalid/actions/T0ACME/1/abc",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "firewall_decision",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": hold_id,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(user_id: str, hold_id: str, reason: str | None) -> dict[str, Any]:
    """A ``view_submission`` payload of the deny modal, with an optional reason."""
    return {
        "type": "view_submission",
        "team": TEAM,
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": TEAM["id"],
        },
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": f"2345.6789.{user_id}",
        "view": {
            "id": "V0DENY",
            "team_id": TEAM["id"],
            "type": "modal",
            "callback_id": "firewall_deny_modal",
            "private_metadata": hold_id,
            "state": {
                "values": {
                    "reason": {"reason_input": {"type": "plain_text_input", "value": reason}}
                }
            },
            "hash": "1700000000.abc",
            "app_id": "A0FIREWALL",
            "bot_id": "BBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }
