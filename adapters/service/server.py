"""Serving the app with uvicorn: in the foreground (``firewall serve``) or in a thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

STARTUP_TIMEOUT_S = 30


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: any free port).

    Made with ``IPPROTO_TCP`` named: asyncio disables Nagle's algorithm (``TCP_NODELAY``)
    only on connections whose socket says so. Without it, a response written in two parts
    (headers, then body) waits for the client's delayed ACK, ~40 ms per keep-alive request.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def base_url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """A uvicorn server that reports when it is ready to take requests."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


def serve(app: Any, sock: socket.socket, *, ready_file: Path | None = None) -> None:
    """Serve ``app`` on ``sock`` until interrupted; write the URL to ``ready_file`` once up."""

    def ready() -> None:
        if ready_file is not None:
            partial = ready_file.with_name(ready_file.name + ".partial")
            partial.write_text(base_url(sock) + "\n", encoding="utf-8")
            partial.replace(ready_file)  # readers never see half a URL

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    _Server(config, ready).run(sockets=[sock])


class ServerThread:
    """The app served on a loopback port from a background thread (embedding, tests)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = bind(host, port)
        self.url = base_url(self._sock)
        self._ready = threading.Event()
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = _Server(config, self._ready.set)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(STARTUP_TIMEOUT_S)
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"the service at {self.url} did not start")
        return self

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._ready.set()  # also when startup failed, so that __enter__ stops waiting

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Shut down (runs the app's lifespan shutdown) and close the socket."""
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_S)
        self._sock.close()
