"""Raw HTTP/1.1 over a socket: requests an HTTP client would not send, or not send whole."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

ANSWER_TIMEOUT_S = 10


def connect(base_url: str) -> socket.socket:
    """A TCP connection to the service at ``base_url``."""
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10)
    sock.settimeout(ANSWER_TIMEOUT_S)
    return sock


def head(path: str, headers: dict[str, str]) -> bytes:
    """The request line and headers of a POST to ``path``."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def status_of(sock: socket.socket) -> int:
    """The status code of the answer on ``sock`` (socket.timeout if none comes in time)."""
    received = b""
    while b"\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed without an answer after {received!r}")
        received += chunk
    return int(received.split(b" ", 2)[1])
