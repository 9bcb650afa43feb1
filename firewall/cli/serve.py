"""``firewall serve``: the approval service (Slack app, REST API, /healthz, /metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.markup import escape

from firewall.cli.logs import LogFormat, configure_logging
from firewall.errors import FirewallError, MissingDependencyError
from firewall.service_config import ServiceConfig, load_service_config

EXIT_UNAVAILABLE = 2
log = structlog.get_logger("firewall.serve")
SERVICE_PACKAGES = {"starlette": "service", "uvicorn": "service", "prometheus_client": "service"}
SLACK_PACKAGES = {"slack_bolt": "slack", "slack_sdk": "slack"}


def serve(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="firewall.toml, with [service] and [slack].")
    ] = Path("firewall.toml"),
    *,
    db: Annotated[
        str | None, typer.Option("--db", help="Store URL overriding [storage] url.")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind; 0 picks a free one.")] = None,
    redis: Annotated[
        str | None, typer.Option("--redis", help="Redis URL for prompt wake-ups.")
    ] = None,
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Talk to Slack over Socket Mode.")
    ] = False,
    ready_file: Annotated[
        Path | None, typer.Option(help="Write the service URL here once it listens.")
    ] = None,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="console, or json: one object per line.")
    ] = LogFormat.CONSOLE,
) -> None:
    """Serve approvals: Slack cards and clicks, the REST API, /healthz and /metrics."""
    try:
        settings = _settings(
            load_service_config(config),
            db=db,
            host=host,
            port=port,
            redis=redis,
            socket_mode=socket_mode,
        )
        _require(SERVICE_PACKAGES if settings.slack is None else SERVICE_PACKAGES | SLACK_PACKAGES)
        _run(settings, ready_file, log_format)
    except (FirewallError, OSError) as exc:
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(f"[red]Error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_UNAVAILABLE) from exc


def _settings(
    config: ServiceConfig,
    *,
    db: str | None,
    host: str | None,
    port: int | None,
    redis: str | None,
    socket_mode: bool,
) -> ServiceConfig:
    service_changes: dict[str, Any] = {"host": host, "port": port, "redis_url": redis}
    service = config.service.model_copy(
        update={key: value for key, value in service_changes.items() if value is not None}
    )
    firewall = config.firewall
    if db:
        storage = firewall.storage.model_copy(
            update={"url": db, "audit_url": None, "approvals_url": None}
        )
        firewall = firewall.model_copy(update={"storage": storage})
    slack = config.slack
    if slack is not None and socket_mode:
        slack = slack.model_copy(update={"mode": "socket"})
    return config.model_copy(update={"firewall": firewall, "service": service, "slack": slack})


def _require(packages: dict[str, str]) -> None:
    import importlib.util  # noqa: PLC0415 - only needed here

    for package, extra in packages.items():
        if importlib.util.find_spec(package) is None:
            raise MissingDependencyError(package, extra)


def _run(config: ServiceConfig, ready_file: Path | None, log_format: LogFormat) -> None:
    from firewall.adapters.service import ServiceRuntime, bind, create_app  # noqa: PLC0415
    from firewall.adapters.service import serve as serve_app  # noqa: PLC0415
    from firewall.adapters.service.server import base_url  # noqa: PLC0415

    runtime = ServiceRuntime(config)  # a bad configuration fails before logging changes
    configure_logging(log_format)
    try:
        with bind(config.service.host, config.service.port) as sock:
            log.info("service_listening", url=base_url(sock), slack=config.slack is not None)
            serve_app(create_app(runtime, own_runtime=False), sock, ready_file=ready_file)
    finally:
        runtime.close()
