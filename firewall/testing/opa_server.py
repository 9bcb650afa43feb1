"""A real local HTTP server speaking the subset of OPA's REST API the firewall uses.

``PUT/GET/DELETE /v1/policies/{id}``, ``GET /v1/policies``, ``POST /v1/data/{path}``
(``{"input": ...}`` -> ``{"result": ...}``, or ``{}`` when undefined), ``GET /health``.
Policies are evaluated by regopy (see :mod:`firewall.testing.opa_data`). It binds
127.0.0.1 on a free port and runs in a background thread; :meth:`OpaTestServer.fail_with`
makes every request answer with an error status, :meth:`OpaTestServer.stop` makes it
unreachable. Usage::

    with OpaTestServer() as opa:
        opa.load_policies(Path("policies/rego"))
        engine = OpaServerEngine(opa.url, Path("policies/rego"))
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from firewall.policy.files import policy_paths, read_module, rego_test_paths
from firewall.testing.opa_data import OpaData
from firewall.testing.opa_handler import OpaRequestHandler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], data: OpaData) -> None:
        super().__init__(address, OpaRequestHandler)
        self.data = data
        self.failure_status: int | None = None
        self.requests: list[tuple[str, str]] = []
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()


class OpaTestServer:
    """A loopback stand-in for OPA; a context manager (``with OpaTestServer() as opa``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.data = OpaData()
        self._server = _Server((host, port), self.data)
        self._thread: threading.Thread | None = None
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"

    @property
    def engine_url(self) -> str:
        """The URL for :func:`firewall.policy.engine.engine_from_url`."""
        return "opa+" + self.url

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every (method, path) received so far."""
        with self._server.lock:
            return list(self._server.requests)

    def start(self) -> OpaTestServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections: the server becomes unreachable."""
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()
        with self._server.lock:
            for connection in list(self._server.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def fail_with(self, status: int | None = 500) -> None:
        """Answer every request with ``status`` (``None`` to answer normally again)."""
        self._server.failure_status = status

    def load_policies(self, policy_dir: Path, *, include_tests: bool = False) -> list[str]:
        """Store the policy files (and tests) of ``policy_dir`` directly; returns the ids."""
        paths = policy_paths(policy_dir) + (rego_test_paths(policy_dir) if include_tests else [])
        ids = []
        for path in paths:
            module = read_module(policy_dir, path)
            errors = self.data.put(module.name, module.source)
            if errors:
                raise ValueError(f"{module.name} does not parse: {'; '.join(errors)}")
            ids.append(module.name)
        return ids

    def __enter__(self) -> OpaTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def opa_test_server(policy_dir: Path | None = None) -> Iterator[str]:
    """Run an :class:`OpaTestServer` (with ``policy_dir``'s policies loaded); yield its URL."""
    with OpaTestServer() as server:
        if policy_dir is not None:
            server.load_policies(policy_dir)
        yield server.url
