"""A benchmark report as a terminal table and as ``benchmarks.md``."""

from __future__ import annotations

from firewall.bench.results import (
    TARGET_ADDED_US,
    TARGET_MIDDLEWARE_SHARE,
    BenchReport,
    LoadResult,
    MiddlewareCost,
    Phase,
    Ratio,
    ScenarioResult,
)
from firewall.bench.scenarios import EMBEDDED

HEADERS = (
    "scenario",
    "median µs",
    "p99 µs",
    "calls/s",
    "median ÷ floor",
    "added µs",
    "heap setup KiB",
    "heap peak/calls KiB",
)
LOAD_HEADERS = ("audit", "count", "seconds", "per second")
PHASE_HEADERS = ("phase", "median µs", "share of the call")


def micros(value: float) -> str:
    """Microseconds, with a decimal only where it matters."""
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def scenario_cells(report: BenchReport, result: ScenarioResult) -> list[str]:
    """One row of the latency table."""
    if result.latency is None:
        return [result.label, f"skipped: {result.skipped}", "", "", "", "", "", ""]
    latency, ratio = result.latency, report.floor_ratio(result)
    heap = result.heap
    return [
        result.label,
        micros(latency.median_us),
        micros(latency.p99_us),
        f"{latency.calls_per_s:,.0f}",
        f"{ratio.ratio:,.1f}x" if ratio else "(floor)",
        micros(ratio.added_us) if ratio else "",
        f"{heap.setup_kib:,.0f}" if heap else "",
        f"{heap.calls_peak_kib:,.1f}" if heap else "",
    ]


def load_cells(result: LoadResult) -> list[str]:
    """One row of the audit table."""
    if result.throughput is None:
        return [result.label, f"skipped: {result.skipped}", "", ""]
    done = result.throughput
    return [
        result.label,
        f"{done.count:,} {done.unit}",
        f"{done.seconds:.2f}",
        f"{done.per_second:,.0f} {done.unit}/s",
    ]


def phase_rows(report: BenchReport, indent: str = "") -> list[list[str]]:
    """The breakdown table, header first; a nested phase's label starts with ``indent``."""
    return [list(PHASE_HEADERS)] + [_phase_cells(phase, indent) for phase in report.breakdown]


def _phase_cells(phase: Phase, indent: str) -> list[str]:
    share = "" if phase.share is None else f"{phase.share:.1%}"
    label = indent + phase.label if phase.nested else phase.label
    return [label, micros(phase.median_us), share]


def ratio_lines(report: BenchReport) -> list[str]:
    """The ratios, one sentence each, then the project's targets against them."""
    lines = [_ratio_line(ratio) for ratio in report.ratios()]
    added = report.middleware_added()
    if added is not None:
        lines.append(_middleware_line(added))
    return lines + target_lines(report)


def target_lines(report: BenchReport) -> list[str]:
    """Each target of this 2-core machine, what this run measured, met or missed."""
    lines = []
    guarded = report.floor_ratio_of(EMBEDDED)
    if guarded is not None:
        lines.append(
            f"target: an allowed guarded call on embedded defaults adds at most"
            f" {TARGET_ADDED_US} µs median over the bare call; measured"
            f" {micros(guarded.added_us)} µs: {_verdict(guarded.added_us <= TARGET_ADDED_US)}"
        )
    share = report.middleware_share()
    if share is not None:
        lines.append(
            f"target: FirewallMiddleware adds at most {TARGET_MIDDLEWARE_SHARE:.0%} to a"
            f" create_agent tool step; measured {share:.0%}:"
            f" {_verdict(share <= TARGET_MIDDLEWARE_SHARE)}"
        )
    return lines


def _verdict(met: bool) -> str:
    return "met" if met else "**missed** (see where the time goes)"


def _middleware_line(added: MiddlewareCost) -> str:
    line = (
        f"added per agent tool step (median): FirewallMiddleware {micros(added.firewall_us)} µs,"
        f" LangChain's middleware {micros(added.langchain_us)} µs"
    )
    if added.ratio is None:
        return line + " (LangChain's too small to divide by at this noise)"
    return line + f": {added.ratio:,.1f}x LangChain's added cost"


def _ratio_line(ratio: Ratio) -> str:
    sign = "+" if ratio.added_us >= 0 else "-"
    return f"{ratio.text}: {ratio.ratio:,.2f}x ({sign}{micros(abs(ratio.added_us))} µs median)"


def text_report(report: BenchReport) -> str:
    """The report for a terminal: the tables and the ratios."""
    latency = [list(HEADERS)] + [scenario_cells(report, r) for r in report.scenarios]
    audit = [list(LOAD_HEADERS)] + [load_cells(r) for r in report.audit]
    parts = [
        f"per call ({report.calls_text()} per scenario, interleaved; heap: tracemalloc over "
        f"up to {report.memory_calls} calls in a separate pass)",
        _aligned(latency),
        "",
        *ratio_lines(report),
        "",
        *_breakdown_lines(report),
        _aligned(audit),
        "",
        f"finished in {report.seconds:.0f} s",
    ]
    return "\n".join(parts)


def _breakdown_lines(report: BenchReport) -> list[str]:
    if not report.breakdown:
        return []
    title = (
        f"where the time goes (embedded guarded call, medians of {report.breakdown_calls} calls"
        " in a separate pass, timed by wrappers around the stages)"
    )
    return [title, _aligned(phase_rows(report, indent="  ")), ""]


def _aligned(rows: list[list[str]]) -> str:
    skipped = {i for i, row in enumerate(rows) if row[1].startswith("skipped")}
    widths = [
        max(len(row[col]) for i, row in enumerate(rows) if i not in skipped or col == 0)
        for col in range(len(rows[0]))
    ]
    lines = []
    for i, row in enumerate(rows):
        if i in skipped:
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]}")
            continue
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first row is the header."""
    header, *body = rows
    align = ["---"] + ["---:"] * (len(header) - 1)
    return "\n".join("| " + " | ".join(row) + " |" for row in [header, align, *body])
