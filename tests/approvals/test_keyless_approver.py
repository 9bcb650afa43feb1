"""An approver process without the audit writer's key decides holds; the chain covers it.

The approver runs the real CLI in another process, with a config that has no [audit] key
and no key in its environment. The auditor's ``firewall audit verify`` then reports a
decision not yet on the chain, passes once the gate adopted it, and catches a decision
written straight into the approval store with plain SQL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from firewall.examples.support_agent.backends import Backends

from firewall.approvals.models import HoldState
from firewall.audit.keyfiles import KEY_FILE_ENV, generate_key_pair
from firewall.config import load_config
from firewall.factory import build_firewall
from firewall.gate import Firewall
from firewall.types import Allow, Hold, Principal, ToolCall, new_id

EXAMPLE = Path(__file__).parents[2] / "examples" / "support_agent"
AGENT = Principal(
    agent_id="support-bot-1",
    tenant="acme",
    scopes=frozenset({"refunds:write"}),
    on_behalf_of="customer:c-100",
)


def _write_configs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The agent's firewall.toml (with the writer key), the approver's (without), the .pub."""
    key_file, public_file, _ = generate_key_pair(tmp_path / "writer-keys", "writer")
    text = (EXAMPLE / "firewall.toml").read_text(encoding="utf-8")
    text = text.replace(
        '"../../policies/rego"', json.dumps(str(EXAMPLE.parents[1] / "policies" / "rego"))
    )
    text = text.replace('"demo_secrets.toml"', json.dumps(str(EXAMPLE / "demo_secrets.toml")))
    text = text.replace('"sqlite:///../../.firewall/firewall.db"', '"sqlite:///firewall.db"')
    text = text.replace('hold_mode = "wait"', 'hold_mode = "return"')
    agent_text = text.replace("dev_key = true", f"key_file = {json.dumps(str(key_file))}")
    approver_text = text.replace("dev_key = true", "")
    (tmp_path / "agent").mkdir()
    (tmp_path / "approver").mkdir()
    agent, approver = tmp_path / "agent" / "firewall.toml", tmp_path / "approver" / "firewall.toml"
    agent.write_text(agent_text, encoding="utf-8")
    # The approver's copy names the same database, and no key.
    approver.write_text(
        approver_text.replace(
            '"sqlite:///firewall.db"', json.dumps(f"sqlite:///{tmp_path}/agent/firewall.db")
        ),
        encoding="utf-8",
    )
    return agent, approver, public_file


def _firewall(config: Path) -> Firewall:
    return build_firewall(load_config(config), facts=Backends.seeded().facts())


def _hold(firewall: Firewall, amount: float) -> tuple[ToolCall, Hold]:
    call = ToolCall(
        tool="issue_refund",
        args={"order_id": "o-2", "amount": amount, "reason": "late"},
        principal=AGENT,
        session_id=new_id("s"),
    )
    hold = firewall.run(call, lambda: "refunded")
    assert isinstance(hold, Hold), hold
    return call, hold


def _firewall_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != KEY_FILE_ENV}
    return subprocess.run(
        [sys.executable, "-m", "firewall.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _chain_decisions(db: Path) -> list[tuple[str, str, object]]:
    """(outcome, approver, journal entry) of every hold_decided record, read with plain SQL."""
    with sqlite3.connect(db) as conn:
        bodies = [row[0] for row in conn.execute("SELECT body FROM audit_records ORDER BY seq")]
    entries = [json.loads(body)["entry"] for body in bodies]
    return [
        (entry["outcome"], entry["details"]["approver"], entry["details"].get("journal_entry"))
        for entry in entries
        if entry["event"] == "hold_decided" and entry["details"].get("approver")
    ]


def test_an_approver_without_the_writer_key_decides_and_verify_covers_it(tmp_path: Path) -> None:
    agent_config, approver_config, public_key = _write_configs(tmp_path)
    approver_dir = approver_config.parent
    firewall = _firewall(agent_config)
    try:
        call, hold = _hold(firewall, 450.0)
        decided = _firewall_cli(
            "approvals", "approve", hold.hold_id, "--as", "alice", "--config", str(approver_config),
            cwd=approver_dir,
        )  # fmt: skip
        assert decided.returncode == 0, decided.stderr
        assert not (approver_dir / "audit-keys").exists()
        verify = ["audit", "verify", "--config", str(agent_config), "--public-key", str(public_key)]
        before = _firewall_cli(*verify, "--json", cwd=approver_dir)
        assert before.returncode == 2, before.stdout
        kinds = [f["kind"] for f in json.loads(before.stdout)["findings"]]
        assert kinds == ["unadopted_decision"]
        record = firewall.approvals.get(hold.hold_id)
        assert record is not None
        assert record.state is HoldState.APPROVED
        assert isinstance(firewall.resolve_hold(call, hold, record), Allow)
    finally:
        firewall.close()
    after = _firewall_cli(*verify, cwd=approver_dir)
    assert after.returncode == 0, after.stdout + after.stderr
    [(outcome, approver, entry)] = _chain_decisions(tmp_path / "agent" / "firewall.db")
    assert (outcome, approver) == ("approved", "alice")
    assert isinstance(entry, int)


def test_a_decision_written_into_the_store_with_sql_is_reported_tampered(tmp_path: Path) -> None:
    agent_config, _, public_key = _write_configs(tmp_path)
    firewall = _firewall(agent_config)
    try:
        _, hold = _hold(firewall, 450.0)
    finally:
        firewall.close()
    db = tmp_path / "agent" / "firewall.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE approval_holds SET state = 'approved', approvals = '[\"carol\"]',"
            " decided_by = '[\"carol\"]', version = version + 1 WHERE hold_id = ?",
            (hold.hold_id,),
        )
    result = _firewall_cli(
        "audit", "verify", "--config", str(agent_config), "--public-key", str(public_key), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    kinds = [f["kind"] for f in json.loads(result.stdout)["findings"]]
    assert kinds == ["unrecorded_decision"]


def test_checkpoint_adopts_the_journal_when_no_agent_resumes(tmp_path: Path) -> None:
    agent_config, approver_config, public_key = _write_configs(tmp_path)
    firewall = _firewall(agent_config)
    try:
        _, hold = _hold(firewall, 450.0)
    finally:
        firewall.close()
    denied = _firewall_cli(
        "approvals", "deny", hold.hold_id, "--as", "carol", "--reason", "no",
        "--config", str(approver_config), cwd=tmp_path,
    )  # fmt: skip
    assert denied.returncode == 0, denied.stderr
    checkpoint = _firewall_cli("audit", "checkpoint", "--config", str(agent_config), cwd=tmp_path)
    assert checkpoint.returncode == 0, checkpoint.stderr
    verify = ["audit", "verify", "--config", str(agent_config), "--public-key", str(public_key)]
    assert _firewall_cli(*verify, cwd=tmp_path).returncode == 0
    assert [d[:2] for d in _chain_decisions(tmp_path / "agent" / "firewall.db")] == [
        ("denied", "carol")
    ]


def test_a_decision_that_cannot_be_journaled_is_not_made(tmp_path: Path) -> None:
    """The hold's change and its journal entry commit together: no decision without record."""
    agent_config, approver_config, _ = _write_configs(tmp_path)
    firewall = _firewall(agent_config)
    try:
        _, hold = _hold(firewall, 450.0)
    finally:
        firewall.close()
    db = tmp_path / "agent" / "firewall.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS approval_journal (entry_id INTEGER PRIMARY KEY,"
            " hold_id VARCHAR(128), journaled_at DATETIME NOT NULL, event JSON NOT NULL,"
            " adopted_at DATETIME)"
        )
        conn.execute(
            "CREATE TRIGGER journal_full BEFORE INSERT ON approval_journal"
            " BEGIN SELECT RAISE(ABORT, 'journal full'); END"
        )
    result = _firewall_cli(
        "approvals", "approve", hold.hold_id, "--as", "alice", "--config", str(approver_config),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    with sqlite3.connect(db) as conn:
        [(state,)] = conn.execute(
            "SELECT state FROM approval_holds WHERE hold_id = ?", (hold.hold_id,)
        ).fetchall()
    assert state == "pending"


def test_the_gate_does_not_run_a_hold_approved_by_hand_by_an_outsider(tmp_path: Path) -> None:
    agent_config, _, _ = _write_configs(tmp_path)
    firewall = _firewall(agent_config)
    try:
        call, hold = _hold(firewall, 450.0)
        with sqlite3.connect(tmp_path / "agent" / "firewall.db") as conn:
            conn.execute(
                "UPDATE approval_holds SET state = 'approved', approvals = '[\"mallory\"]',"
                " decided_by = '[\"mallory\"]', version = version + 1 WHERE hold_id = ?",
                (hold.hold_id,),
            )
        record = firewall.approvals.get(hold.hold_id)
        assert record is not None
        decision = firewall.resolve_hold(call, hold, record)
    finally:
        firewall.close()
    assert not isinstance(decision, Allow)
    assert "mallory" in " ".join(decision.reasons)
