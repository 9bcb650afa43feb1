"""Ratios and rendering of a benchmark report (hand-made numbers, no measuring)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from firewall.bench.markdown import markdown_report
from firewall.bench.render import text_report
from firewall.bench.results import BenchReport, HeapUse, LoadResult, ScenarioResult
from firewall.bench.scenarios import (
    AGENT_FIREWALL,
    AGENT_LANGCHAIN,
    AGENT_PLAIN,
    BARE,
    EMBEDDED,
    POSTGRES_REDIS,
)
from firewall.bench.stats import Latency, Throughput


def ran(key: str, median_us: float, floor: str | None = None) -> ScenarioResult:
    latency = Latency(count=10, median_us=median_us, p99_us=median_us * 2, calls_per_s=1.0)
    return ScenarioResult(key, f"label of {key}", floor, latency, HeapUse(10.0, 1.0, 5))


def report(*scenarios: ScenarioResult, calls: int = 10) -> BenchReport:
    return BenchReport(
        command="firewall bench --out docs",
        started_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        calls=calls,
        requested_calls=10,
        latency_budget_s=150.0,
        warmup=100,
        memory_calls=5,
        machine={"cores": "2"},
        scenarios=list(scenarios),
        audit=[
            LoadResult("appends: SQLite, 1 writer", Throughput("1", "appends", 100, 0.5)),
            LoadResult("appends: PostgreSQL, 1 writer", skipped="PostgreSQL unreachable"),
        ],
        seconds=12.0,
    )


def test_guarded_call_is_compared_with_the_bare_call() -> None:
    found = report(ran(BARE, 2.0), ran(EMBEDDED, 2002.0, BARE))
    ratio = found.floor_ratio(found.scenarios[1])
    assert ratio is not None
    assert ratio.ratio == pytest.approx(1001.0)
    assert ratio.added_us == pytest.approx(2000.0)


def test_middleware_cost_is_what_each_adds_over_the_plain_agent() -> None:
    found = report(
        ran(AGENT_PLAIN, 2000.0),
        ran(AGENT_LANGCHAIN, 2500.0, AGENT_PLAIN),
        ran(AGENT_FIREWALL, 4000.0, AGENT_PLAIN),
    )
    added = found.middleware_added()
    assert added is not None
    assert (added.firewall_us, added.langchain_us) == (2000.0, 500.0)
    assert added.ratio == pytest.approx(4.0)
    assert "FirewallMiddleware 2,000 µs, LangChain's middleware 500 µs: 4.0x" in text_report(found)
    assert [r.ratio for r in found.ratios()] == [pytest.approx(1.6)]  # 4000 / 2500


def test_middleware_ratio_is_not_divided_by_an_unmeasurable_cost() -> None:
    found = report(
        ran(AGENT_PLAIN, 2000.0),
        ran(AGENT_LANGCHAIN, 1990.0, AGENT_PLAIN),
        ran(AGENT_FIREWALL, 4000.0, AGENT_PLAIN),
    )
    added = found.middleware_added()
    assert added is not None
    assert added.ratio is None
    assert "LangChain's too small to divide by at this noise" in text_report(found)


def test_ratios_leave_out_skipped_scenarios() -> None:
    skipped = ScenarioResult(POSTGRES_REDIS, "pg", BARE, skipped="PostgreSQL unreachable")
    found = report(ran(BARE, 2.0), ran(EMBEDDED, 2002.0, BARE), skipped)
    assert found.ratios() == []
    assert found.middleware_added() is None


def test_skipped_rows_say_why_in_the_table_and_the_markdown() -> None:
    skipped = ScenarioResult(POSTGRES_REDIS, "pg row", BARE, skipped="Redis unreachable at x")
    found = report(ran(BARE, 2.0), skipped)
    assert re.search(r"^pg row +skipped: Redis unreachable at x$", text_report(found), re.M)
    markdown = markdown_report(found)
    assert "| pg row | skipped: Redis unreachable at x |" in markdown
    assert "| appends: PostgreSQL, 1 writer | skipped: PostgreSQL unreachable |" in markdown


def test_markdown_names_the_regenerate_command_and_the_chart() -> None:
    markdown = markdown_report(report(ran(BARE, 2.0)), "chart.png")
    assert "```bash\nfirewall bench --out docs\n```" in markdown
    assert "![median and p99 per scenario](chart.png)" in markdown
    assert "| appends: SQLite, 1 writer | 100 appends | 0.50 | 200 appends/s |" in markdown


def test_a_run_cut_short_by_its_time_budget_says_so() -> None:
    assert "4 calls (of 10 asked: time budget reached)" in text_report(
        report(ran(BARE, 2.0), calls=4)
    )


def test_targets_are_reported_met_or_missed_from_the_measured_medians() -> None:
    found = report(
        ran(BARE, 1.0),
        ran(EMBEDDED, 201.0, BARE),
        ran(AGENT_PLAIN, 2000.0),
        ran(AGENT_FIREWALL, 2600.0, AGENT_PLAIN),
    )
    text = markdown_report(found)
    assert "adds at most 250 µs median over the bare call; measured 200 µs: met" in text
    assert "adds at most 15% to a create_agent tool step; measured 30%: **missed**" in text


def test_no_target_line_for_a_scenario_that_did_not_run() -> None:
    skipped = ScenarioResult(EMBEDDED, "embedded", BARE, skipped="no disk")
    assert "target:" not in text_report(report(ran(BARE, 1.0), skipped))
