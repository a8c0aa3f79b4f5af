"""A blocking HTTP/1.1 client connection for scrapes (one GET at a time, kept alive), framed by llhttp.

Why not ``http.client``: in the server, under the bench's load (2,000 series a target, 50 targets at 1 s),
``http.client``'s GET cost 0.38-0.44 ms of a scrape thread's CPU per scrape, most of it the ``email``
package parsing ~5 response headers (bench/README, stop 34). Why not a reader of our own: every response of
every target goes through this code, so the parse is ``httptools``' binding of llhttp (Node.js' maintained,
fuzzed HTTP/1.1 parser, the one uvicorn uses); this module only moves bytes between the socket and the
parser and keeps what a scrape needs: the status, the headers as a dict (names lowercased, last one wins) and
the body as llhttp frames it (``Content-Length``, ``Transfer-Encoding: chunked`` or the end of the
connection, RFC 9112 §6.3). Redirects, compression, limits and deadlines are the caller's
(:mod:`collector._fetch_sync`).

Errors: ``OSError`` from the socket (``TimeoutError`` included) and :class:`ProtocolError` for a response
llhttp rejects or that the connection ends early. Not thread-safe: one thread uses a connection at a time
(``sock`` may be shut down from another thread to end a blocked read).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httptools

__all__ = ["Address", "Connection", "ProtocolError", "Response"]

_MAX_HEAD = 64 * 1024  # status line + headers: llhttp sets no limit, so a longer head is our error
_MAX_FIELD = 8190  # a status reason, header name or header value longer than this is refused, as aiohttp does
_RECV = 64 * 1024

# (family, sockaddr) from getaddrinfo: the loop resolves names, the thread only connects
Address = tuple[int, tuple[Any, ...]]


class ProtocolError(Exception):
    """The target's answer is not a well-formed HTTP/1.x response, or the connection ended inside it."""


class _Local(threading.local):
    """One receive buffer per scrape thread, not per target: a buffer per connection would be 64 KiB per
    target held between scrapes (~32 B per series at 2,000 series a target)."""

    def __init__(self) -> None:
        self.buf = bytearray(_RECV)
        self.view = memoryview(self.buf)


_local = _Local()


class Response:
    """A response whose head was read; its body is read with :meth:`Connection.body_parts`.

    ``length``: the Content-Length (None when chunked or absent); ``keep_alive``: llhttp's verdict once
    the message is complete (HTTP version, ``Connection`` header, and whether the body ran to the close)."""

    __slots__ = (
        "complete",
        "headers",
        "keep_alive",
        "length",
        "parts",
        "reason",
        "received",
        "status",
        "until_close",
    )

    def __init__(self) -> None:
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.length: int | None = None
        self.until_close = False
        self.keep_alive = False
        self.complete = False
        self.parts: list[bytes] = []  # body bytes parsed, not yet handed out
        self.received = 0  # body bytes parsed in all


class _Callbacks:
    """The httptools protocol object: llhttp calls these while ``feed_data`` runs (in the reading thread)."""

    __slots__ = ("fed", "got_bytes", "head_done", "head_size", "interim", "parser", "resp", "trailing")

    def __init__(self) -> None:
        self.resp = Response()
        self.head_done = False
        self.interim = False
        self.trailing = False  # bytes after the complete response: not ours, the connection is not reused
        self.head_size = 0  # status reason and header bytes: llhttp sets no limit, we do
        self.got_bytes = False
        self.fed = 0  # bytes fed before the head was complete
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        if self.resp.complete:
            self.trailing = True
            raise ProtocolError("data after the response")

    def on_status(self, reason: bytes) -> None:
        self.head_size += len(reason)
        self.resp.reason += reason.decode("latin-1")
        if len(self.resp.reason) > _MAX_FIELD:
            raise ProtocolError(f"Got more than {_MAX_FIELD} bytes when reading Status line is too long.")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        if self.head_size > _MAX_HEAD:
            raise ProtocolError(f"response head longer than {_MAX_HEAD} bytes")
        # aiohttp's limits (max_field_size), with its words: a target it refuses is refused here too
        if len(name) > _MAX_FIELD:
            raise ProtocolError(f"Got more than {_MAX_FIELD} bytes when reading Header name is too long.")
        if len(value) > _MAX_FIELD:
            raise ProtocolError(f"Got more than {_MAX_FIELD} bytes when reading Header value is too long.")
        self.resp.headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (100 Continue, 103 Early Hints): skipped
            self.interim = True
            return
        resp = self.resp
        resp.status = status
        h = resp.headers
        chunked = "chunked" in h.get("transfer-encoding", "").lower()
        length = h.get("content-length", "")
        resp.length = int(length) if length.isdigit() and not chunked else None
        resp.until_close = not chunked and resp.length is None
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        resp = self.resp
        resp.parts.append(body)
        resp.received += len(body)

    def on_message_complete(self) -> None:
        if self.interim:  # the real response follows on the same parser
            self.interim = False
            self.resp = Response()
            return
        self.resp.keep_alive = self.parser.should_keep_alive()
        self.resp.complete = True


class Connection:
    """One TCP connection to a target; ``request`` sends a GET, ``response`` reads the head."""

    def __init__(
        self,
        addresses: Sequence[Address],
        deadline: float,
        connecting: Callable[[socket.socket | None], bool] | None = None,
    ) -> None:
        """Connect to the first of ``addresses`` that answers (already resolved: no DNS here, so nothing
        in this thread outlasts the socket timeouts and the loop's shutdown at the deadline).

        ``deadline`` (``time.monotonic()``) bounds all the attempts together, not each one: every connect
        gets the time left. ``connecting`` is told each socket before its connect (and None after), so
        that another thread can shut it down (which ends a blocked connect at once, on Linux); it returns
        False to stop trying (the fetch was aborted meanwhile): ``TimeoutError``."""
        last: OSError = OSError("no address to connect to")
        for family, sockaddr in addresses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            sock = socket.socket(family, socket.SOCK_STREAM)
            failed: BaseException | None = None
            try:
                if connecting is not None and not connecting(sock):
                    raise TimeoutError("timed out")  # aborted: the caller reports the timeout
                sock.settimeout(left)
                sock.connect(sockaddr)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except BaseException as exc:
                failed = exc
            # withdrawn from abort() before it is closed: its descriptor number, once free, may be another
            # thread's socket, which abort() must never shut down
            if connecting is not None:
                connecting(None)
            if failed is not None:
                sock.close()
                if isinstance(failed, TimeoutError) or not isinstance(failed, OSError):
                    raise failed  # the deadline is over for every address (or not a socket error)
                last = failed
                continue
            self.sock = sock
            break
        else:
            raise last
        self.used = False  # a request went out on it before: a failure to send may be a stale keep-alive
        self._cb = _Callbacks()  # replaced by each request()

    def close(self) -> None:
        self.sock.close()

    def request(self, head: bytes) -> None:
        self._cb = _Callbacks()
        self.sock.sendall(head)

    def _feed(self) -> bool:
        """One recv into the thread's buffer, fed to llhttp; False at the end of the connection."""
        cb = self._cb
        n = self.sock.recv_into(_local.view, _RECV)
        if not n:
            return False
        cb.got_bytes = True
        head_done = cb.head_done
        try:
            cb.parser.feed_data(_local.view[:n])
        except httptools.HttpParserUpgrade:
            if not cb.head_done:
                raise ProtocolError("the target switched protocols") from None
            # 101 Switching Protocols: a final response without a body, which the caller refuses by status
            # (as aiohttp does); the connection is no longer HTTP
            cb.resp.complete, cb.resp.keep_alive = True, False
            return True
        except httptools.HttpParserError as exc:
            if cb.trailing:
                cb.resp.keep_alive = False
                return True
            if isinstance(exc.__context__, ProtocolError):
                raise exc.__context__ from exc
            where = "response body" if cb.head_done else "response head"
            raise ProtocolError(f"malformed {where}: {exc or type(exc).__name__}") from exc
        if not head_done:  # httptools buffers a header until its end: bound what it may hold meanwhile
            cb.fed += n
            if not cb.head_done and cb.fed > _MAX_HEAD:
                raise ProtocolError(f"response head longer than {_MAX_HEAD} bytes")
        return True

    def response(self) -> Response:
        """Read up to the end of the status line and headers (1xx interim responses skipped); body bytes
        that came with them wait in ``Response.parts``."""
        cb = self._cb
        while not cb.head_done:
            if not self._feed():
                raise ProtocolError(
                    "connection closed before the response" if not cb.got_bytes else "truncated response head"
                )
        self.used = True
        return cb.resp

    def body_parts(self, resp: Response, *, joined: bool = True) -> Iterator[bytes]:
        """The body, one piece per recv, up to the end of the message: llhttp hands out each chunk of a
        chunked body apart, which for 1-byte chunks would be a bytes object (~35 B) per body byte.
        ``joined=False``: llhttp's pieces as they are (a recv's worth at most still held at once), for a
        decoder that must see them as aiohttp's does (its member cap counts per piece)."""
        while True:
            if resp.parts:
                parts, resp.parts = resp.parts, []
                if joined:
                    yield parts[0] if len(parts) == 1 else b"".join(parts)
                else:
                    yield from parts
            if resp.complete:
                return
            if not self._feed():
                if resp.until_close:  # the end of the connection is the end of this body
                    resp.complete, resp.keep_alive = True, False
                    if resp.parts:
                        yield b"".join(resp.parts)
                    return
                raise ProtocolError(
                    "connection closed inside a chunked body"
                    if resp.length is None
                    else f"connection closed after {resp.received} of {resp.length} body bytes"
                )
