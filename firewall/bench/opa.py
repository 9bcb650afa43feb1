"""The OPA Data-API stand-in (:mod:`firewall.testing.opa_server`) in a process of its own.

A real OPA is a separate process; running the stand-in in one keeps its evaluation off
the measured process's interpreter lock and out of its memory figures.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator
from multiprocessing.connection import Connection

from firewall.bench.services import BenchSkip

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10


def serve(connection: Connection) -> None:
    """Child process: serve on a free loopback port, send the URL, serve until told to stop."""
    from firewall.testing.opa_server import OpaTestServer  # noqa: PLC0415 - in the child only

    with OpaTestServer() as server:
        connection.send(server.url)
        connection.recv()


@contextlib.contextmanager
def opa_server_process() -> Iterator[str]:
    """The ``http://127.0.0.1:PORT`` of a stand-in OPA server running in a child process."""
    try:
        import opa_client  # noqa: F401, PLC0415 - the engine's optional dependency
    except ImportError as exc:
        raise BenchSkip("opa-python-client is not installed (pip install '.[opa]')") from exc
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(theirs,), daemon=True)
    process.start()
    try:
        yield _url_from(ours)
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.terminate()
            process.join()
        ours.close()


def _url_from(connection: Connection) -> str:
    if not connection.poll(START_TIMEOUT_S):
        raise BenchSkip(f"the OPA stand-in did not start within {START_TIMEOUT_S} s")
    try:
        return str(connection.recv())
    except EOFError as exc:
        raise BenchSkip("the OPA stand-in exited before serving") from exc
