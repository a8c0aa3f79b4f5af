"""Request-body limits shared by the simulated CC and UAA: a body is read in chunks and refused as soon as it
passes the limit (never buffered whole first), whatever the client declared in ``Content-Length``."""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["BodyTooLargeError", "read_limited"]


class BodyTooLargeError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)
