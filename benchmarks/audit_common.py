"""Shared by the audit benchmarks: gate-like events, a fresh log, a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from firewall.audit.events import AuditEvent

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def gate_events(worker: int, call: int) -> tuple[AuditEvent, AuditEvent]:
    """The decision and outcome records the gate writes for one allowed lookup."""
    principal = {
        "agent_id": f"bench-{worker}",
        "tenant": "acme",
        "scopes": ["crm:read"],
        "on_behalf_of": f"customer:c-{worker}",
        "requested_by": None,
    }
    call_id = f"w{worker}_{call}"
    decision = AuditEvent(
        event="decision",
        call_id=call_id,
        decision_id=f"dec_{uuid.uuid4().hex}",
        principal=principal,
        tool="crm_lookup",
        outcome="allow",
        policy_revision="sha256:" + "ab" * 32,
        args={"customer_id": f"c-{worker}"},
        personal_args=("customer_id",),
        details={"stage": "decided"},
    )
    outcome = AuditEvent(
        event="outcome", call_id=call_id, principal=principal, tool="crm_lookup", outcome="ok"
    )
    return decision, outcome


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL on a fresh schema of the benchmark PostgreSQL, dropped afterwards."""
    base = os.environ.get("FIREWALL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    schema = f"audit_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
