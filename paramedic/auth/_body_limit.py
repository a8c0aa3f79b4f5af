"""Request body size limits for every route (``server.limits``), as a pure ASGI middleware.

A request whose ``Content-Length`` is over its route's limit is answered 413 before a byte of its body is
read (the server then closes the connection). A body without a length (chunked) is counted as the app reads
it: the read that goes over the limit raises :class:`BodyTooLarge`, a 413 ``HTTPException``, so a route
that is reading (FastAPI's body parsing, ``request.body()``, ``request.stream()``) stops there and the app
answers 413; anything outside the
app's exception handling (the auth middleware reading a form for its CSRF field) is answered 413 here.
Any answer to a streamed body the app has not read to its end (that 413, or a 401/403 sent before reading)
gets ``Connection: close``: else uvicorn keeps the connection and parses, in Python on the event loop, every
further byte the client streams, only to drop it, with no end. Response bodies are untouched.

The limit of a path is the one of its longest matching prefix in the route table, else the default.
Refusals are counted in ``paramedic_http_refusals_total{reason="body_too_large"}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paramedic.auth._refusals import send_refusal

__all__ = ["BodyLimitMiddleware", "BodyTooLarge"]

_CLOSE = (b"connection", b"close")


def _without_connection(message: Message) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]


class BodyTooLarge(HTTPException):
    """The request body went over ``limit`` bytes while being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")
        self.limit = limit


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, routes: Mapping[str, int], refusals: Counter
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.routes = sorted(routes.items(), key=lambda item: len(item[0]), reverse=True)
        self.refused = refusals.labels("body_too_large")

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.routes if path.startswith(prefix)), self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            self.refused.inc()
            msg = f"request body of {int(declared)} bytes is over this route's limit of {limit} bytes"
            await send_refusal(send, 413, msg, {"Connection": "close"})
            return
        received = 0
        started = False
        # a streamed body the app has not read to its end when it answers (a 413 once over the limit, a 401,
        # a 403): the answer says Connection: close, else the server would read on to drop every byte
        unread = declared is None and any(k == b"transfer-encoding" for k, _ in scope["headers"])

        async def limited_receive() -> Message:
            nonlocal received, unread
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    self.refused.inc()
                    raise BodyTooLarge(limit)
                unread = unread and bool(message.get("more_body", False))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if unread:
                    message = {**message, "headers": [*_without_connection(message), _CLOSE]}
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await send_refusal(send, 413, exc.detail, {"Connection": "close"})
