"""``firewall bench``: the price of safety, every variant measured side by side in one run."""

from __future__ import annotations

import contextlib
import logging
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit, urlunsplit

import structlog
import typer

if TYPE_CHECKING:
    from firewall.bench.results import BenchReport


def bench(
    calls: Annotated[
        int | None,
        typer.Option("--calls", min=1, help="Calls per scenario (default 2000; 30 with --quick)."),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="Tiny counts: checks that everything runs (about half a minute)."
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write DIR/benchmarks.md and DIR/benchmarks.png here."),
    ] = None,
    postgres: Annotated[
        str | None,
        typer.Option(
            "--postgres", help="PostgreSQL URL (default: $FIREWALL_TEST_POSTGRES_URL or local)."
        ),
    ] = None,
    redis: Annotated[
        str | None,
        typer.Option("--redis", help="Redis URL (default: $FIREWALL_TEST_REDIS_URL or local)."),
    ] = None,
) -> None:
    """Bare vs guarded calls (embedded, PostgreSQL+Redis, OPA), agent steps, audit throughput."""
    from firewall.bench import runner  # noqa: PLC0415 - heavy imports
    from firewall.bench.render import text_report  # noqa: PLC0415

    if out is not None:
        _check_chart_can_be_drawn()
    options = runner.BenchOptions.chosen(
        quick=quick,
        calls=calls,
        postgres_url=postgres,
        redis_url=redis,
        command=_command(calls, quick=quick, out=out, postgres=postgres, redis=redis),
    )
    with _quiet_logs():
        report = runner.run(options, progress=_progress_printer())
    typer.echo(text_report(report))
    if out is not None:
        for path in _write(report, out):
            typer.echo(f"wrote {path}")


def _check_chart_can_be_drawn() -> None:
    """Fail before measuring, not after, if ``--out`` cannot write the chart."""
    from firewall.bench.chart import pyplot  # noqa: PLC0415 - matplotlib is heavy
    from firewall.errors import MissingDependencyError  # noqa: PLC0415

    try:
        pyplot()
    except MissingDependencyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from exc


def _progress_printer() -> Callable[[str], None]:
    """Prints each phase to stderr with the seconds since the start."""
    started = time.perf_counter()

    def progress(message: str) -> None:
        typer.echo(f"[{time.perf_counter() - started:4.0f} s] {message}", err=True)

    return progress


def _write(report: BenchReport, out: Path) -> list[Path]:
    from firewall.bench.chart import write_chart  # noqa: PLC0415 - matplotlib is heavy
    from firewall.bench.markdown import markdown_report  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    markdown = out / "benchmarks.md"
    markdown.write_text(markdown_report(report, "benchmarks.png"), encoding="utf-8")
    return [markdown, write_chart(report, out / "benchmarks.png")]


def _command(
    calls: int | None, *, quick: bool, out: Path | None, postgres: str | None, redis: str | None
) -> str:
    """The command line that reproduces this run (without passwords)."""
    parts = ["firewall", "bench"]
    if calls is not None:
        parts += ["--calls", str(calls)]
    if quick:
        parts.append("--quick")
    if out is not None:
        parts += ["--out", str(out)]
    if postgres is not None:
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        parts += ["--postgres", make_url(postgres).render_as_string(hide_password=True)]
    if redis is not None:
        parts += ["--redis", _without_password(redis)]
    return shlex.join(parts)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Only errors are logged while measuring (set-up warnings would break up the table)."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        yield
    finally:
        structlog.configure(**saved)
