"""``firewall policy replay``: audited decisions re-evaluated against a candidate policy."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from firewall.examples.support_agent.backends import Backends
from firewall.examples.support_agent.run import demo_config
from typer.testing import CliRunner

from firewall.audit.store import SqlAuditLog
from firewall.cli import app
from firewall.factory import build_firewall
from firewall.gate import Firewall
from firewall.types import Principal, ToolCall

SHIPPED = Path(__file__).parents[2] / "policies" / "rego"
AGENT = Principal(
    agent_id="support-bot-1",
    tenant="acme",
    scopes=frozenset({"crm:read", "refunds:write", "tickets:read"}),
    on_behalf_of="customer:c-100",
)


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[Firewall, str, dict[str, ToolCall]]]:
    """A demo firewall (shipped policy, hold_mode return) that decided a mix of calls."""
    config = demo_config(tmp_path)
    holds = config.holds.model_copy(update={"hold_mode": "return"})
    firewall = build_firewall(
        config.model_copy(update={"holds": holds}), facts=Backends.seeded().facts()
    )
    calls = {
        "lookup": ToolCall(
            tool="crm_lookup", args={"customer_id": "c-100"}, principal=AGENT, session_id="s-1"
        ),
        "other_tenant": ToolCall(
            tool="crm_lookup", args={"customer_id": "c-900"}, principal=AGENT, session_id="s-2"
        ),
        "small_refund": _refund(25.0),
        "tiny_refund": _refund(5.0),
        "large_refund": _refund(450.0),
    }
    for the_call in calls.values():
        firewall.run(the_call, lambda: "done")
    yield firewall, config.storage.audit(), calls
    firewall.close()


def _refund(amount: float) -> ToolCall:
    order = "o-1" if amount <= 80 else "o-2"  # within the order's amount
    args = {"order_id": order, "amount": amount, "reason": "damaged"}
    return ToolCall(tool="issue_refund", args=args, principal=AGENT, session_id=f"s-{amount}")


def _candidate(tmp_path: Path, auto_approve_limit: int) -> Path:
    """The shipped policies with a different refund auto-approve limit."""
    candidate = tmp_path / "candidate"
    shutil.copytree(SHIPPED, candidate)
    settings = candidate / "settings.rego"
    text = settings.read_text().replace(
        "refund_auto_approve_limit := 100", f"refund_auto_approve_limit := {auto_approve_limit}"
    )
    settings.write_text(text)
    return candidate


def _replay(url: str, policy: Path, *extra: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(
        app, ["policy", "replay", "--policy", str(policy), "--db", url, "--json", *extra]
    )
    return result.exit_code, json.loads(result.output)


def test_the_policy_that_decided_replays_every_decision_unchanged(audited) -> None:
    _, url, calls = audited
    code, report = _replay(url, SHIPPED)
    assert code == 0
    assert report["replayed"] == len(calls)
    assert report["changed"] == []


def test_a_stricter_policy_reports_exactly_the_decisions_it_changes(audited, tmp_path) -> None:
    _, url, calls = audited
    code, report = _replay(url, _candidate(tmp_path, auto_approve_limit=10))
    assert code == 1
    changed = {(c["call_id"], c["recorded"], c["candidate"]) for c in report["changed"]}
    assert changed == {(calls["small_refund"].call_id, "allow", "hold")}
    assert report["by_transition"] == {"allow→hold": 1}


def test_replay_since_skips_older_decisions(audited, tmp_path) -> None:
    _, url, _ = audited
    code, report = _replay(url, _candidate(tmp_path, 10), "--since", "2999-01-01")
    assert (code, report["replayed"], report["changed"]) == (0, 0, [])


def test_decisions_of_an_erased_subject_are_counted_not_replayed(audited) -> None:
    firewall, url, calls = audited
    assert isinstance(firewall.audit, SqlAuditLog)
    firewall.audit.erase("customer:c-100")
    code, report = _replay(url, SHIPPED)
    assert code == 0
    assert report["replayed"] == 0
    assert report["skipped"] == {"personal data erased": len(calls)}


def test_the_captured_policy_input_holds_no_raw_personal_data(audited) -> None:
    _, url, _ = audited
    with SqlAuditLog(url, create=False) as log:
        captured = [r.details["policy_input"] for r in log.records() if "policy_input" in r.details]
    text = json.dumps(captured)
    assert captured
    assert "c-100" not in text
    assert "c-900" not in text
    assert "customer:" not in text


def test_replay_of_a_broken_candidate_exits_2(audited, tmp_path) -> None:
    _, url, _ = audited
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "decision.rego").write_text("package firewall\n\nthis is not rego\n")
    result = CliRunner().invoke(app, ["policy", "replay", "--policy", str(broken), "--db", url])
    assert result.exit_code == 2
    assert "error" in result.output


def test_the_audited_mix_has_policy_allows_denies_and_holds(audited) -> None:
    """So the replay tests above cover every outcome the policy gives."""
    _, url, _ = audited
    with SqlAuditLog(url, create=False) as log:
        outcomes = [r.details.get("policy_outcome") for r in log.records() if r.event == "decision"]
    assert sorted(o for o in outcomes if o) == ["allow", "allow", "allow", "deny", "hold"]


def test_a_session_aware_candidate_replays_on_the_captured_session_summary(tmp_path) -> None:
    """Only the refund made in a session that had read a customer record changes."""
    config = demo_config(tmp_path)
    holds = config.holds.model_copy(update={"hold_mode": "return"})
    firewall = build_firewall(
        config.model_copy(update={"holds": holds}), facts=Backends.seeded().facts()
    )
    lookup = ToolCall(
        tool="crm_lookup", args={"customer_id": "c-100"}, principal=AGENT, session_id="read"
    )
    after_lookup = _refund(20.0).model_copy(update={"session_id": "read"})
    clean = _refund(15.0).model_copy(update={"session_id": "clean"})
    try:
        for the_call in (lookup, after_lookup, clean):
            firewall.run(the_call, lambda: "done")
    finally:
        firewall.close()
    candidate = tmp_path / "candidate"
    shutil.copytree(SHIPPED, candidate)
    (candidate / "stricter.rego").write_text(
        "package firewall\n\nimport rego.v1\n\n"
        'hold contains "money moves only in sessions that read no customer record" if {\n'
        "\tis_string(input.tool.money_arg)\n"
        '\tcount(object.get(input.session.subjects, "crm_lookup", [])) > 0\n'
        "}\n"
    )
    code, report = _replay(config.storage.audit(), candidate)
    assert code == 1
    changed = [(c["call_id"], c["recorded"], c["candidate"]) for c in report["changed"]]
    assert changed == [(after_lookup.call_id, "allow", "hold")]
