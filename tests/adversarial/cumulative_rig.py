"""The demo's support desk, built from its firewall.toml, for attacks on cumulative limits.

Refunds go through :meth:`Firewall.run` with the demo's trusted order facts (order o-1:
80 for customer c-100; o-2: 1200 for c-100; both tenant acme). The tool records what it
refunded, so a test sees exactly how much money left.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from firewall.examples.support_agent.backends import Backends
from firewall.examples.support_agent.run import demo_config

from firewall.audit.keyfiles import ensure_dev_key
from firewall.config import FirewallConfig
from firewall.factory import build_firewall
from firewall.gate import Executed, Firewall
from firewall.types import Deny, Hold, Principal, ToolCall

SCOPES = frozenset({"refunds:write", "crm:read"})


def desk_config(
    data_dir: Path,
    *,
    limits_url: str = "memory://",
    totals_url: str | None = None,
    key_prefix: str = "firewall",
    budgets: bool = True,
) -> FirewallConfig:
    """The demo config: stores in ``data_dir``, held calls returned, no breaker (and no
    budgets unless ``budgets``: tests of the totals alone)."""
    config = demo_config(data_dir)
    storage = {"limits_url": limits_url}
    if totals_url is not None:
        storage["totals_url"] = totals_url
    return config.model_copy(
        update={
            "storage": config.storage.model_copy(update=storage),
            "holds": config.holds.model_copy(update={"hold_mode": "return"}),
            "breaker": config.breaker.model_copy(update={"enabled": False}),
            "limits": config.limits.model_copy(update={"key_prefix": key_prefix, "timeout_s": 0.3}),
            "budgets": config.budgets if budgets else [],
        }
    )  # fmt: skip


def principal(agent: str = "support-bot", on_behalf_of: str | None = "customer:c-100") -> Principal:
    """An agent of tenant acme that may refund, acting for ``on_behalf_of``."""
    return Principal(
        agent_id=agent, tenant="acme", scopes=SCOPES, on_behalf_of=on_behalf_of,
        requested_by="bob",
    )  # fmt: skip


class Desk:
    """A firewall over the demo's backends; ``refunded`` lists what the refund tool paid."""

    def __init__(self, firewall: Firewall, data_dir: Path) -> None:
        self.firewall = firewall
        self.db = data_dir / "firewall.db"
        self.refunded: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def call(
        self,
        order_id: str,
        amount: float,
        *,
        who: Principal | None = None,
        session: str = "s-1",
        call_id: str | None = None,
    ) -> ToolCall:
        """A refund call (a fresh call id unless one is given)."""
        return ToolCall(
            tool="issue_refund",
            args={"order_id": order_id, "amount": amount, "reason": "damaged"},
            principal=who or principal(),
            session_id=session,
            call_id=call_id or f"call_{uuid.uuid4().hex}",
        )  # fmt: skip

    def execute(self, call: ToolCall) -> Any:
        """The refund tool of ``call``: it pays, and records what it paid."""

        def refund() -> str:
            args = self.firewall.restore_args(call)
            with self._lock:
                self.refunded.append((args["order_id"], args["amount"]))
            return "refunded"

        return refund

    def refund(self, order_id: str, amount: float, **how: Any) -> Executed[str] | Deny | Hold:
        """Ask the firewall for one refund; the tool runs only if it says so."""
        call = self.call(order_id, amount, **how)
        return self.firewall.run(call, self.execute(call))

    def paid(self, order_id: str | None = None) -> float:
        """How much the refund tool paid (on ``order_id``, or on every order)."""
        return sum(a for o, a in self.refunded if order_id is None or o == order_id)

    def close(self) -> None:
        """Close the firewall's stores."""
        self.firewall.close()
        self.firewall.approvals.close()


def build_desk(data_dir: Path, **config: Any) -> Desk:
    """The demo's firewall, as ``firewall demo`` builds it, with :func:`desk_config`."""
    ensure_dev_key(data_dir)
    firewall = build_firewall(desk_config(data_dir, **config), facts=Backends.seeded().facts())
    return Desk(firewall, data_dir)


def audited_denials(db: Path) -> list[dict[str, Any]]:
    """Every decision record that denied a call, read with plain SQL."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT body FROM audit_records WHERE event = 'decision' ORDER BY seq"
        ).fetchall()
    entries = [json.loads(body)["entry"] for (body,) in rows]
    return [entry for entry in entries if entry["outcome"] == "deny"]


def audited_totals(db: Path, call_id: str) -> dict[str, Any]:
    """The totals the policy was shown for ``call_id``, as its decision record keeps them."""
    for entry in audited_denials(db):
        if entry["call_id"] == call_id:
            totals: dict[str, Any] = entry["details"]["policy_input"]["context"]["totals"]
            return totals
    raise AssertionError(f"no audited denial of {call_id}")
