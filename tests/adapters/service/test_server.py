"""Serving on loopback: accepted connections send each response at once (no Nagle delay)."""

from __future__ import annotations

import gc
import socket

import httpx
from firewall.adapters.service import ServerThread
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def _tcp_sockets() -> list[socket.socket]:
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, socket.socket)
        and obj.fileno() != -1
        and obj.family in (socket.AF_INET, socket.AF_INET6)
    ]


def _ports(sock: socket.socket) -> tuple[int, int] | None:
    """(local port, peer port) of a connected socket, or None."""
    try:
        return int(sock.getsockname()[1]), int(sock.getpeername()[1])
    except OSError:
        return None


def test_accepted_connections_disable_nagle() -> None:
    """Without TCP_NODELAY, a keep-alive response written in two parts waits ~40 ms for an ACK."""
    app = Starlette(routes=[Route("/", lambda _request: PlainTextResponse("ok"))])
    with ServerThread(app) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/").text == "ok"
        port = int(server.url.rsplit(":", 1)[1])
        clients = [ports[0] for s in _tcp_sockets() if (ports := _ports(s)) and ports[1] == port]
        accepted = [s for s in _tcp_sockets() if _ports(s) in {(port, c) for c in clients}]
        assert accepted, "the accepted connection was not found"
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in accepted)
