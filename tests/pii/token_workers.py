"""Agent worker processes sharing personal-data tokens through Redis (spawned by tests).

Each worker builds its own firewall from the demo's config with ``[storage] tokens_url``
and ``[pii] token_key`` set, as a second process of a real deployment would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firewall.examples.support_agent.agent import PRINCIPAL
from firewall.examples.support_agent.backends import Backends
from firewall.examples.support_agent.run import demo_config

from firewall.config import FirewallConfig
from firewall.factory import build_firewall
from firewall.gate import Executed, Firewall
from firewall.types import Deny, ToolCall

KEY_ENV = "FIREWALL_TEST_TOKEN_KEY"
ADDRESS = "dana.reyes@example.com"


def shared_config(url: str, prefix: str, data_dir: Path) -> FirewallConfig:
    """The demo's config, its tokens in the Redis at ``url`` under ``prefix``."""
    config = demo_config(data_dir)
    storage = config.storage.model_copy(update={"tokens_url": url})
    pii = config.pii.model_copy(update={"token_key": f"env:{KEY_ENV}"})
    limits = config.limits.model_copy(update={"key_prefix": prefix})
    return config.model_copy(update={"storage": storage, "pii": pii, "limits": limits})


def worker_firewall(url: str, prefix: str, data_dir: Path) -> Firewall:
    return build_firewall(shared_config(url, prefix, data_dir), facts=Backends.seeded().facts())


def show_address(url: str, prefix: str, data_dir: Path, session: str) -> str:
    """Look the customer up; the address the model is shown (a token)."""
    return str(lookup_output(url, prefix, data_dir, session)["email"])


def lookup_output(url: str, prefix: str, data_dir: Path, session: str) -> Any:
    """Look the customer up; the lookup's output as the model is shown it."""
    firewall = worker_firewall(url, prefix, data_dir)
    try:
        call = ToolCall(
            tool="crm_lookup",
            args={"customer_id": "c-100"},
            principal=PRINCIPAL,
            session_id=session,
        )
        result = firewall.run(call, lambda: {"name": "Dana Reyes", "email": ADDRESS})
        assert isinstance(result, Executed), result
        return firewall.protect_output(call, result.value, result.redact)
    finally:
        firewall.close()


def mail_to(url: str, prefix: str, data_dir: Path, session: str, to: str) -> dict[str, Any]:
    """Mail ``to`` (a token); what the tool received, or the refusal's code and message."""
    firewall = worker_firewall(url, prefix, data_dir)
    try:
        call = ToolCall(
            tool="send_email",
            args={"to": to, "subject": "Your refund", "body": "It is on its way."},
            principal=PRINCIPAL,
            session_id=session,
        )
        received: dict[str, Any] = {}

        def send() -> str:
            received.update(firewall.restore_args(call))
            return "sent"

        result = firewall.run(call, send)
        if isinstance(result, Executed):
            return {"outcome": "executed", "to": received["to"]}
        code = result.code.value if isinstance(result, Deny) else None
        return {"outcome": result.kind, "code": code, "message": result.message()}
    finally:
        firewall.close()
