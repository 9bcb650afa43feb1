"""The ASGI app of ``firewall serve``: Slack, the REST API, ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from firewall.errors import FirewallError

from .rest import rest_routes
from .runtime import ServiceRuntime

log = structlog.get_logger("firewall.service")
HEALTH_PROBE_ID = "hold_healthz_probe"


def create_app(runtime: ServiceRuntime, *, own_runtime: bool = True) -> Starlette:
    """The service app; its lifespan runs the worker (and Socket Mode, if configured).

    With ``own_runtime`` the runtime's stores are closed when the app shuts down.
    """
    routes = [
        Route("/healthz", _health(runtime), methods=["GET"]),
        Route("/metrics", _metrics(runtime), methods=["GET"]),
        *rest_routes(runtime),
    ]
    if runtime.slack is not None:
        from .slack_endpoint import slack_route  # noqa: PLC0415 - needs the slack extra

        routes.append(slack_route(runtime.slack, runtime.metrics))
    return Starlette(routes=routes, lifespan=_lifespan(runtime, own_runtime))


def _lifespan(runtime: ServiceRuntime, own_runtime: bool) -> Any:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        socket_mode = _socket_mode(runtime)
        runtime.worker.start()
        try:
            yield
        finally:
            if socket_mode is not None:
                await asyncio.to_thread(socket_mode.close)
            await asyncio.to_thread(runtime.worker.stop)
            if own_runtime:
                await asyncio.to_thread(runtime.close)

    return lifespan


def _socket_mode(runtime: ServiceRuntime) -> Any:
    slack = runtime.slack
    if slack is None or slack.settings.mode != "socket":
        return None
    from slack_bolt.adapter.socket_mode import SocketModeHandler  # noqa: PLC0415

    if slack.app_token is None:
        return None
    handler = SocketModeHandler(slack.app, slack.app_token.get_secret_value())
    handler.connect()  # type: ignore[no-untyped-call]
    log.info("slack_socket_mode_connected")
    return handler


def _health(runtime: ServiceRuntime) -> Any:
    async def health(_request: Request) -> Response:
        try:
            await asyncio.to_thread(runtime.approvals.get, HEALTH_PROBE_ID)
        except FirewallError as exc:
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, 503)
        return JSONResponse({"status": "ok", "slack": runtime.slack is not None})

    return health


def _metrics(runtime: ServiceRuntime) -> Any:
    async def metrics(_request: Request) -> Response:
        body = await asyncio.to_thread(runtime.metrics.exposition)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics
