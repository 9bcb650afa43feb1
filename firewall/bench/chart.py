"""``benchmarks.png``: median and p99 per scenario, on a log scale (matplotlib, Agg)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

from firewall.bench.results import BenchReport
from firewall.errors import MissingDependencyError

BAR_HEIGHT = 0.38
LABEL_WIDTH = 40


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (no display), or MissingDependencyError."""
    try:
        import matplotlib  # noqa: PLC0415 - the bench extra is optional

        matplotlib.use("Agg")
        from matplotlib import pyplot as module  # noqa: PLC0415
    except ImportError as exc:
        raise MissingDependencyError("matplotlib", "bench") from exc
    return module


def write_chart(report: BenchReport, path: Path) -> Path:
    """Draw the scenarios that ran to ``path`` (PNG); skipped ones are named in the title."""
    plots = pyplot()
    measured = [r for r in report.scenarios if r.latency is not None]
    labels = [textwrap.fill(r.label, LABEL_WIDTH) for r in measured]
    medians = [r.latency.median_us for r in measured if r.latency is not None]
    p99s = [r.latency.p99_us for r in measured if r.latency is not None]
    figure, axes = plots.subplots(figsize=(11, 0.9 * len(measured) + 1.6), layout="constrained")
    positions = range(len(measured))
    for offset, values, name in ((-1, medians, "median"), (1, p99s, "p99")):
        bars = axes.barh(
            [y + offset * BAR_HEIGHT / 2 for y in positions], values, BAR_HEIGHT, label=name
        )
        axes.bar_label(bars, labels=[_short(v) for v in values], fontsize=8, padding=3)
    axes.set_xscale("log")
    axes.set_xlim(right=max([*p99s, 1.0]) * 8)  # room for the value labels
    axes.set_xlabel("µs per call (log scale)")
    axes.set_yticks(list(positions), labels, fontsize=9)
    axes.invert_yaxis()
    axes.legend(loc="upper right")
    axes.grid(axis="x", which="major", alpha=0.3)
    axes.set_title(_title(report), fontsize=10)
    figure.savefig(path, dpi=110)
    plots.close(figure)
    return path


def _short(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f} ms"
    return f"{value:.1f} µs" if value < 10 else f"{value:.0f} µs"


def _title(report: BenchReport) -> str:
    title = (
        f"Agent Firewall: per-call latency, {report.calls} interleaved calls per scenario "
        f"({report.started_at:%Y-%m-%d}, {report.machine.get('cores', '?')} cores)"
    )
    skipped = [r.label for r in report.scenarios if r.latency is None]
    if skipped:
        title += "\nskipped: " + "; ".join(skipped)
    return title
