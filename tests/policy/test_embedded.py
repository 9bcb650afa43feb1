"""The embedded engine: compile once, reload on edit (fail closed), safe across threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firewall.errors import ConfigError, MalformedDecisionError, PolicyError
from firewall.policy.embedded import RegoEngine

REFUND_50 = ("issue_refund", {"order_id": "o1", "amount": 50, "reason": "x"})
ORDER = {"order": {"id": "o1", "tenant": "t1", "amount": 8000, "customer_id": "c1"}}

InputFactory = Callable[..., dict[str, Any]]


def lower_auto_limit(policy_dir: Path, limit: int) -> None:
    settings = policy_dir / "settings.rego"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(
        text.replace("refund_auto_approve_limit := 100", f"refund_auto_approve_limit := {limit}"),
        encoding="utf-8",
    )


def test_engine_rebuilds_after_a_policy_file_changes(
    policy_copy: Path, make_input: InputFactory
) -> None:
    engine = RegoEngine(policy_copy, reload_interval_s=0)
    policy_input = make_input(*REFUND_50, ORDER)
    assert engine.evaluate(policy_input).outcome == "allow"
    revision = engine.revision
    lower_auto_limit(policy_copy, 10)
    assert engine.evaluate(policy_input).outcome == "hold"
    assert engine.revision != revision
    engine.close()


def test_engine_checks_files_at_most_every_reload_interval(
    policy_copy: Path, make_input: InputFactory
) -> None:
    now = [1000.0]
    engine = RegoEngine(policy_copy, reload_interval_s=5, clock=lambda: now[0])
    policy_input = make_input(*REFUND_50, ORDER)
    lower_auto_limit(policy_copy, 10)
    now[0] += 4.9
    assert engine.evaluate(policy_input).outcome == "allow"
    now[0] += 0.2
    assert engine.evaluate(policy_input).outcome == "hold"
    engine.close()


def test_touching_a_file_without_changing_it_keeps_the_revision(policy_copy: Path) -> None:
    engine = RegoEngine(policy_copy, reload_interval_s=0)
    revision = engine.revision
    settings = policy_copy / "settings.rego"
    settings.write_text(settings.read_text(encoding="utf-8"), encoding="utf-8")
    engine.evaluate({"tool": {"name": "x"}})
    assert engine.revision == revision
    engine.close()


def test_editing_a_test_file_does_not_change_the_revision(policy_copy: Path) -> None:
    engine = RegoEngine(policy_copy, reload_interval_s=0)
    revision = engine.revision
    (policy_copy / "decision_test.rego").write_text("package broken_test\n", encoding="utf-8")
    engine.evaluate({"tool": {"name": "x"}})
    assert engine.revision == revision
    engine.close()


def test_compile_error_at_start_names_file_and_line(write_policy: Callable[..., Path]) -> None:
    policy_dir = write_policy(decision="package firewall\n\nimport rego.v1\n\ndecision := {\n")
    with pytest.raises(PolicyError, match=r"policy does not compile: decision\.rego:5:\d+: "):
        RegoEngine(policy_dir)


def test_failed_rebuild_fails_closed_until_fixed(
    policy_copy: Path, make_input: InputFactory
) -> None:
    engine = RegoEngine(policy_copy, reload_interval_s=0)
    policy_input = make_input(*REFUND_50, ORDER)
    good = (policy_copy / "settings.rego").read_text(encoding="utf-8")
    (policy_copy / "settings.rego").write_text(good + "\nbroken := {\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"settings\.rego:\d+:\d+"):
        engine.evaluate(policy_input)
    with pytest.raises(PolicyError, match="does not compile"):
        engine.evaluate(policy_input)
    (policy_copy / "settings.rego").write_text(good + "\n# fixed\n", encoding="utf-8")
    assert engine.evaluate(policy_input).outcome == "allow"
    engine.close()


def test_removing_every_policy_file_fails_closed(
    policy_copy: Path, make_input: InputFactory
) -> None:
    engine = RegoEngine(policy_copy, reload_interval_s=0)
    for path in policy_copy.glob("*.rego"):
        if not path.name.endswith("_test.rego"):
            path.unlink()
    with pytest.raises(PolicyError, match="no policy files"):
        engine.evaluate(make_input(*REFUND_50, ORDER))
    engine.close()


def test_undefined_decision_is_malformed(write_policy: Callable[..., Path]) -> None:
    engine = RegoEngine(
        write_policy(
            decision='package firewall\nimport rego.v1\n\ndecision := {"outcome": "allow", '
            '"reasons": []} if input.never\n'
        )
    )
    with pytest.raises(MalformedDecisionError, match=r"no decision at data\.firewall\.decision"):
        engine.evaluate({"tool": {"name": "x"}})
    engine.close()


def test_malformed_decision_names_the_field(write_policy: Callable[..., Path]) -> None:
    engine = RegoEngine(
        write_policy(decision='package firewall\n\ndecision := {"outcome": "ok", "reasons": []}\n')
    )
    with pytest.raises(
        MalformedDecisionError, match=r"decision\.outcome: must be allow, deny or hold"
    ):
        engine.evaluate({})
    engine.close()


def test_evaluation_error_is_a_policy_error_with_regos_message(
    write_policy: Callable[..., Path],
) -> None:
    engine = RegoEngine(
        write_policy(
            decision="package firewall\nimport rego.v1\n\ndecision := 1 if input.a\n"
            "decision := 2 if input.a\n"
        )
    )
    with pytest.raises(PolicyError, match="complete rules must not produce multiple outputs"):
        engine.evaluate({"a": True})
    engine.close()


def test_input_that_is_not_json_is_refused(shipped_policies: Path) -> None:
    engine = RegoEngine(shipped_policies)
    with pytest.raises(PolicyError, match=r"input\.args\.amount is nan"):
        engine.evaluate({"tool": {"name": "issue_refund"}, "args": {"amount": float("nan")}})
    engine.close()


def test_closed_engine_refuses_to_evaluate(shipped_policies: Path) -> None:
    engine = RegoEngine(shipped_policies)
    engine.close()
    with pytest.raises(PolicyError, match="closed"):
        engine.evaluate({"tool": {"name": "crm_lookup"}})


async def test_aevaluate_gives_the_same_decision(
    shipped_policies: Path, make_input: InputFactory
) -> None:
    engine = RegoEngine(shipped_policies)
    policy_input = make_input(*REFUND_50, ORDER)
    assert await engine.aevaluate(policy_input) == engine.evaluate(policy_input)
    engine.close()


def test_concurrent_threads_get_their_own_decisions(
    shipped_policies: Path, make_input: InputFactory
) -> None:
    engine = RegoEngine(shipped_policies, reload_interval_s=0)
    amounts = {50: "allow", 500: "hold", 9000: "deny"}
    inputs = {
        a: make_input("issue_refund", {"order_id": "o1", "amount": a}, ORDER) for a in amounts
    }
    wrong: list[tuple[int, str]] = []

    def worker(offset: int) -> None:
        for n in range(150):
            amount = list(amounts)[(n + offset) % len(amounts)]
            outcome = engine.evaluate(inputs[amount]).outcome
            if outcome != amounts[amount]:
                wrong.append((amount, outcome))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    engine.close()


def test_negative_reload_interval_is_a_config_error(shipped_policies: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        RegoEngine(shipped_policies, reload_interval_s=-1)
    assert caught.value.key == "policy.reload_interval_s"
