"""A response whose body is one large buffer (a range query's matrix), sent in bytes slices.

The renderer builds the JSON in one ``bytearray`` and hands it over as a ``memoryview`` (no copy). Sent as
one ASGI message, that view would cost the event loop time proportional to its size twice: Starlette's
gzip pass-through (clients without ``Accept-Encoding: gzip``) compares the message body with itself byte by
byte when it is not ``bytes``, and h11 joins it into a new ``bytes`` copy. Slices of at most
:data:`CHUNK_BYTES`, each a real ``bytes`` object as ASGI specifies, keep every step short and bounded; the
``Content-Length`` is the whole body's, as before.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["CHUNK_BYTES", "BufferResponse"]

CHUNK_BYTES = 1 << 20


class BufferResponse(Response):
    """A :class:`~starlette.responses.Response` of ``bytes`` or a ``memoryview``, sent in slices."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        body = self.body
        if not body or (isinstance(body, bytes) and len(body) <= CHUNK_BYTES):
            await send({"type": "http.response.body", "body": bytes(body)})
            return
        view = memoryview(body)
        size = len(view)
        for start in range(0, size, CHUNK_BYTES):
            end = start + CHUNK_BYTES
            await send(
                {"type": "http.response.body", "body": bytes(view[start:end]), "more_body": end < size}
            )
