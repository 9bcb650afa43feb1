"""Reading a request body without trusting its size: refused before it is read in full.

A declared ``Content-Length`` over the cap is refused before a byte of the body is read;
a body without one (chunked) is read only until it passes the cap. Either way at most
``limit`` bytes are ever held in memory.
"""

from __future__ import annotations

import re

from starlette.requests import ClientDisconnect, Request

CONTENT_LENGTH = re.compile(r"^[0-9]{1,18}$")


class BodyRefusedError(Exception):
    """The body is too large, or its framing is malformed: answer ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (:class:`BodyRefusedError` otherwise)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not CONTENT_LENGTH.match(declared):
            raise BodyRefusedError(400, "malformed Content-Length header")
        if int(declared) > limit:
            raise BodyRefusedError(413, f"the body may hold at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyRefusedError(413, f"the body may hold at most {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise BodyRefusedError(400, "the client went away before sending the whole body") from exc
    return b"".join(chunks)
