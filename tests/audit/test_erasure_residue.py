"""After ``firewall audit erase``, a copy of the disk holds nothing of the subject.

One distinctive customer id and e-mail address are planted in every field a call, a hold
and a decision can carry: the principal's ``on_behalf_of``, a personal argument, a
non-personal argument, a free-text argument, the policy's hold and deny reasons, the
approver's deny reason (through the CLI), the gate's deny reason repeating it, and
``details``. Then the subject is erased through the CLI, and the raw database files
(SQLite file and WAL; PostgreSQL ``pg_dump`` and the database's files after CHECKPOINT),
and an export bundle, are searched for the values and for the subject's keys.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.events import AuditEvent
from firewall.audit.keyfiles import KEY_FILE_ENV
from firewall.audit.store import SqlAuditLog
from firewall.cli import app
from firewall.cli.approvals import GROUPS_ENV
from firewall.gate import Firewall
from firewall.policy.embedded import RegoEngine
from firewall.types import Deny, Hold, Principal, ToolCall, ToolSpec
from tests.audit.residue import (
    data_directory_readable,
    directory_files,
    findings,
    own_postgres,
    postgres_files,
    sqlite_files,
)
from tests.gate_helpers import object_schema
from tests.services import fresh_schema

runner = CliRunner()
RUN = uuid.uuid4().hex[:6]  # values differ per run: no earlier run can leave them behind
CUSTOMER = f"cx-{RUN}-zq"
SUBJECT = f"customer:{CUSTOMER}"
LOCAL_PART = f"zq{RUN}.quartz"
EMAIL = f"{LOCAL_PART}@example.org"
NEEDLES = (CUSTOMER, EMAIL, LOCAL_PART)

POLICY = """
package firewall

import rego.v1

default decision := {"outcome": "deny", "reasons": ["no rule for this tool"]}

decision := {"outcome": "allow", "reasons": []} if input.tool.name == "lookup"

decision := {"outcome": "deny", "reasons": [reason]} if {
    input.tool.name == "pay"
    reason := sprintf("no payments for %s", [input.args.customer_id])
}

decision := {
    "outcome": "hold",
    "reasons": [sprintf("refund for %s needs a supervisor", [input.principal.on_behalf_of])],
    "obligations": {"approvers": "supervisors", "ttl_s": 600},
} if input.tool.name == "refund"
"""
CUSTOMER_ARGS = object_schema(customer_id="string", contact="string", reason="string")
TOOLS = (
    ToolSpec(name="lookup", scope="crm:read", personal_args=("customer_id",),
             args_schema=CUSTOMER_ARGS),
    ToolSpec(name="pay", scope="payments:write", personal_args=("customer_id",),
             args_schema=CUSTOMER_ARGS),
    ToolSpec(name="refund", scope="refunds:write", personal_args=("customer_id",),
             args_schema=CUSTOMER_ARGS),
)  # fmt: skip
PRINCIPAL = Principal(
    agent_id="bot-1",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write", "payments:write"}),
    on_behalf_of=SUBJECT,
    requested_by="bob",
)
ARGS = {
    "customer_id": CUSTOMER,  # declared personal
    "contact": EMAIL,  # not declared personal, detected as an e-mail address
    "reason": f"customer {CUSTOMER} wrote from {EMAIL}",  # free text naming both
}


def make_call(tool: str) -> ToolCall:
    return ToolCall(tool=tool, args=ARGS, principal=PRINCIPAL, session_id=f"s-{RUN}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database whose files this test can read: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'firewall.db'}"
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    if data_directory_readable(postgres_url):
        with fresh_schema(postgres_url, "residue") as url:
            yield url
        return
    with own_postgres() as url:
        yield url


@pytest.fixture
def cli_env(key_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI signs with the test writer key and knows the approver groups."""
    monkeypatch.setenv(KEY_FILE_ENV, str(key_files[0]))
    monkeypatch.setenv(GROUPS_ENV, json.dumps({"supervisors": ["alice", "carol"]}))


def plant_everywhere(url: str, tmp_path: Path) -> None:
    """Calls, holds and decisions carrying the customer's id and e-mail in every field."""
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    (policy_dir / "decision.rego").write_text(POLICY, encoding="utf-8")
    with SqlAuditLog(url) as audit, SqlApprovalStore(url) as store:
        approvals = ApprovalService(store, audit, {"supervisors": ["alice", "carol"]})
        firewall = Firewall(
            tools=TOOLS, policy=RegoEngine(policy_dir), audit=audit, approvals=approvals
        )
        assert not isinstance(firewall.run(make_call("lookup"), lambda: "ok"), Deny | Hold)
        assert isinstance(firewall.guard(make_call("pay")), Deny)
        denied_call, pending_call = make_call("refund"), make_call("refund")
        denied, pending = firewall.guard(denied_call), firewall.guard(pending_call)
        assert isinstance(denied, Hold)
        assert isinstance(pending, Hold)
        audit.append(
            AuditEvent(
                event="outcome",
                call_id=pending_call.call_id,
                principal=PRINCIPAL.policy_view(),
                tool="refund",
                outcome="error",
                details={"error": f"mail to {EMAIL} bounced", "note": {"who": CUSTOMER}},
            )
        )
        reason = f"phoned {EMAIL}: {CUSTOMER} is not the account holder"
        result = runner.invoke(
            app, ["approvals", "deny", denied.hold_id, "--as", "alice", "--reason", reason,
                  "--db", url],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        record = approvals.get(denied.hold_id)
        assert record is not None
        decision = firewall.resolve_hold(denied_call, denied, record)
        assert isinstance(decision, Deny)
        # The gate's reason repeats the approver's, masked before it was stored (issue 15).
        assert f"{CUSTOMER} is not the account holder" in decision.reasons[0]
        assert EMAIL not in decision.reasons[0]


def subject_keys(url: str) -> list[str]:
    """Every key stored for the subject, read with plain SQL before the erasure."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t.endswith("_subjects")]
            keys = [
                str(key)
                for table in tables
                for key in conn.execute(
                    text(f"SELECT key FROM {table} WHERE subject = :s"),  # noqa: S608
                    {"s": SUBJECT},
                ).scalars()
            ]
    finally:
        engine.dispose()
    return keys


def raw_files(url: str) -> dict[str, bytes]:
    if url.startswith("sqlite"):
        return sqlite_files(Path(url.removeprefix("sqlite:///")))
    return postgres_files(url)


@pytest.mark.usefixtures("cli_env")
def test_after_erase_no_copy_of_the_disk_holds_the_subjects_data(
    db_url: str, tmp_path: Path, key_files: tuple[Path, Path]
) -> None:
    plant_everywhere(db_url, tmp_path)
    keys = subject_keys(db_url)
    assert keys, "the subject has no key: nothing was sealed for them"
    assert findings(NEEDLES, raw_files(db_url)), "the planted values must be findable first"

    # Approvers journal their decisions; the writer adopts them (cron runs this) before erase.
    adopted = runner.invoke(app, ["audit", "checkpoint", "--db", db_url])
    assert adopted.exit_code == 0, adopted.output
    erased = runner.invoke(app, ["audit", "erase", "--subject", SUBJECT, "--db", db_url])
    assert erased.exit_code == 0, erased.output
    verified = runner.invoke(
        app, ["audit", "verify", "--db", db_url, "--public-key", str(key_files[1])]
    )
    assert verified.exit_code == 0, verified.output
    assert "1 erased subject" in verified.output
    bundle = tmp_path / "bundle"
    exported = runner.invoke(app, ["audit", "export", "--out", str(bundle), "--db", db_url])
    assert exported.exit_code == 0, exported.output

    files = raw_files(db_url) | {f"bundle/{n}": d for n, d in directory_files(bundle).items()}
    hits = findings((*NEEDLES, SUBJECT, *keys), files)
    assert not hits, "found after erase:\n" + "\n".join(hits)
