"""A Socket Mode endpoint on loopback: one WebSocket connection, envelopes in, acks out.

Just enough of RFC 6455 for slack_sdk's built-in Socket Mode client: the handshake,
masked client frames, pings answered with pongs, and unmasked text frames to send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import socket
import struct
import threading
from typing import Any

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
TIMEOUT_S = 30


class MockSocketMode:
    """Accepts the app's connection; :meth:`send` an envelope, :meth:`ack` awaits its ack."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connection: socket.socket | None = None
        self._connected = threading.Event()
        self._received: queue.Queue[dict[str, Any]] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link"

    def __enter__(self) -> MockSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sock in (self._connection, self._listener):
            if sock is not None:
                sock.close()
        self._thread.join(TIMEOUT_S)

    def send(self, envelope: dict[str, Any]) -> None:
        """Send one envelope to the app, once it is connected."""
        assert self._connected.wait(TIMEOUT_S), "the app never connected"
        assert self._connection is not None
        self._connection.sendall(_frame(TEXT, json.dumps(envelope).encode("utf-8")))

    def ack(self) -> dict[str, Any]:
        """The next message the app sent (its ack of an envelope)."""
        return self._received.get(timeout=TIMEOUT_S)

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:
            return
        self._connection = connection
        with connection:
            _handshake(connection)
            self._connected.set()
            self._read_frames(connection)

    def _read_frames(self, connection: socket.socket) -> None:
        while True:
            try:
                opcode, payload = _read_frame(connection)
            except (OSError, ConnectionError):
                return
            if opcode == PING:
                connection.sendall(_frame(PONG, payload))
            elif opcode == TEXT:
                self._received.put(json.loads(payload))
            elif opcode == CLOSE:
                return


def _handshake(connection: socket.socket) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        request += connection.recv(4096)
    headers = dict(
        line.split(": ", 1) for line in request.decode("latin-1").split("\r\n")[1:] if ": " in line
    )
    key = headers["Sec-WebSocket-Key"].strip()
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()  # noqa: S324
    connection.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )


def _frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def _read_frame(connection: socket.socket) -> tuple[int, bytes]:
    first, second = _exactly(connection, 2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _exactly(connection, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _exactly(connection, 8))
    mask = _exactly(connection, 4) if second & 0x80 else b"\0\0\0\0"
    data = _exactly(connection, size)
    return first & 0x0F, bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def _exactly(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
