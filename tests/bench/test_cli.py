"""``firewall bench --quick --out DIR``: one run prints the table and writes the docs."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firewall.bench.scenarios import scenarios
from firewall.bench.services import Service
from firewall.cli import app
from firewall.cli.bench import _command

LABELS = [s.label for s in scenarios(Service("PostgreSQL", ""), Service("Redis", ""))]
NUMBER = r"[\d,]+(?:\.\d+)?"


def number(text: str) -> float:
    return float(text.replace(",", "").removesuffix("x"))


def table_rows(markdown: str, header: str) -> dict[str, list[str]]:
    """The rows of the Markdown table whose first header cell is ``header``, by first cell."""
    lines = markdown.split(f"| {header} |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return {row[0]: row[1:] for row in rows}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_quick_run_prints_every_scenario_and_writes_markdown_and_chart(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    args = ["bench", "--quick", "--out", str(tmp_path), "--postgres", postgres_url]
    result = CliRunner().invoke(app, [*args, "--redis", redis_url])
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output
    for label in LABELS:
        assert re.search(rf"^{re.escape(label)} +{NUMBER} +{NUMBER} ", result.output, re.M)

    markdown = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    assert f"firewall bench --quick --out {tmp_path} --postgres" in markdown
    latency = table_rows(markdown, "scenario")
    assert list(latency) == LABELS
    for label, (median, p99, per_s, ratio, added, setup, peak) in latency.items():
        assert 0 < number(median) <= number(p99), label
        assert number(per_s) > 0, label
        assert ratio == "(floor)" or (number(ratio) > 0 and added), label
        assert number(peak) >= 0, label
        assert number(setup) >= number(latency[LABELS[0]][5]), "more than the bare call holds"
    audit = table_rows(markdown, "audit")
    assert len(audit) == 5
    assert all(re.fullmatch(rf"{NUMBER} (appends|records)/s", row[2]) for row in audit.values())
    assert "added per agent tool step (median): FirewallMiddleware" in markdown
    phases = table_rows(markdown, "phase")
    assert "## Where the time goes (embedded guarded call)" in markdown
    assert {"check: policy", "audit: decision record (durable before the tool runs)"} <= set(phases)
    assert all(number(median) > 0 for median, _share in phases.values())
    assert re.search(rf"^check: policy +{NUMBER} +{NUMBER}%$", result.output, re.M)
    assert "- **cores**:" in markdown

    width, height = png_size(tmp_path / "benchmarks.png")
    assert width > 600
    assert height > 400


def test_regenerate_command_never_shows_a_password() -> None:
    command = _command(
        None,
        quick=False,
        out=Path("docs/"),
        postgres="postgresql+psycopg://bench:s3cret@db/test",
        redis="redis://:s3cret@cache:6379/0",
    )
    assert "s3cret" not in command
    assert command == (
        "firewall bench --out docs --postgres 'postgresql+psycopg://bench:***@db/test'"
        " --redis 'redis://:***@cache:6379/0'"
    )
