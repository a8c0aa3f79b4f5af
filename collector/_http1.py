"""A minimal blocking HTTP/1.1 client connection for scrapes: one GET at a time, kept alive.

Why not ``http.client``: in the server, under the bench's load (2,000 series a target, 50 targets at 1 s),
``http.client``'s GET cost 0.38–0.44 ms of a scrape thread's CPU per scrape, most of it the ``email``
package parsing ~5 response headers; this reader cost 0.16 ms there (bench/README, stop 34). It reads only
what a scrape needs: the status line, the headers as a dict (names lowercased, last one wins), and the body
framed by ``Transfer-Encoding: chunked``, ``Content-Length`` or the end of the connection (RFC 9112 §6.3).
Redirects, compression, limits and deadlines are the caller's (:mod:`collector._fetch_sync`).

Errors: ``OSError`` from the socket (``TimeoutError`` included) and :class:`ProtocolError` for a response
that is not HTTP/1.x or ends early. Not thread-safe: one thread uses a connection at a time (``sock`` may be
shut down from another thread to end a blocked read).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

__all__ = ["Connection", "ProtocolError", "Response"]

_MAX_HEAD = 64 * 1024  # status line + headers; a longer head is an error, not a reason to buffer more
_MAX_LINE = 8 * 1024  # a chunk-size or trailer line
_RECV = 64 * 1024


class ProtocolError(Exception):
    """The target's answer is not a well-formed HTTP/1.x response, or the connection ended inside it."""


class Response:
    """A response whose head was read; the body is read with :meth:`Connection.body_exact` or
    :meth:`Connection.body_parts`."""

    __slots__ = ("chunked", "headers", "keep_alive", "length", "reason", "status")

    def __init__(self, status: int, reason: str, headers: dict[str, str], keep_alive: bool) -> None:
        self.status, self.reason, self.headers = status, reason, headers
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length", "")
        self.length = int(length) if length.isdigit() and not self.chunked else None
        # without a length the body runs to the end of the connection: it cannot be reused
        self.keep_alive = keep_alive and (self.chunked or self.length is not None)


class Connection:
    """One TCP connection to a target; ``request`` sends a GET, ``response`` reads the head."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()  # received, not yet consumed
        self.used = False  # a request went out on it before: a failure to send may be a stale keep-alive

    def close(self) -> None:
        self.sock.close()

    def request(self, head: bytes) -> None:
        self.sock.sendall(head)

    def _fill(self) -> int:
        data = self.sock.recv(_RECV)
        self._buf += data
        return len(data)

    def response(self) -> Response:
        """Read the status line and headers (1xx interim responses skipped)."""
        while True:
            end = self._buf.find(b"\r\n\r\n")
            while end < 0:
                if len(self._buf) > _MAX_HEAD:
                    raise ProtocolError(f"response head longer than {_MAX_HEAD} bytes")
                if not self._fill():
                    raise ProtocolError(
                        "connection closed before the response"
                        if not self._buf
                        else "truncated response head"
                    )
                end = self._buf.find(b"\r\n\r\n")
            head = bytes(self._buf[:end]).decode("latin-1")
            del self._buf[: end + 4]
            status_line, _, rest = head.partition("\r\n")
            version, _, status_reason = status_line.partition(" ")
            code, _, reason = status_reason.partition(" ")
            if not version.startswith("HTTP/1.") or not (len(code) == 3 and code.isdigit()):
                raise ProtocolError(f"not an HTTP/1.x response: {status_line[:40]!r}")
            status = int(code)
            if 100 <= status < 200:
                continue
            headers: dict[str, str] = {}
            for line in rest.split("\r\n") if rest else ():
                name, colon, value = line.partition(":")
                if not colon:
                    raise ProtocolError(f"malformed header line: {line[:40]!r}")
                headers[name.strip().lower()] = value.strip()
            conn = headers.get("connection", "").lower()
            keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
            self.used = True
            return Response(status, reason.strip(), headers, keep)

    def body_exact(self, n: int) -> bytes:
        """The next ``n`` bytes: the buffered part, then ``recv_into`` straight into the result's buffer."""
        have = len(self._buf)
        if have >= n:
            out = bytes(self._buf[:n])
            del self._buf[:n]
            return out
        buf = bytearray(n)
        buf[:have] = self._buf
        self._buf.clear()
        view = memoryview(buf)
        got = have
        while got < n:
            k = self.sock.recv_into(view[got:], n - got)
            if not k:
                raise ProtocolError(f"connection closed after {got} of {n} body bytes")
            got += k
        return bytes(buf)

    def body_parts(self, resp: Response) -> Iterator[bytes]:
        """The body as it arrives, a recv's worth at a time (chunked, Content-Length or until close)."""
        if resp.chunked:
            yield from self._chunked()
        elif resp.length is not None:
            left = resp.length
            while left:
                part = self._some(left)
                if not part:
                    raise ProtocolError(f"connection closed with {left} body bytes missing")
                left -= len(part)
                yield part
        else:
            while part := self._some(_RECV):
                yield part

    def _some(self, most: int) -> bytes:
        """Up to ``most`` bytes: buffered ones first, else one recv (b"" at the end of the connection)."""
        if not self._buf and not self._fill():
            return b""
        out = bytes(self._buf[:most])
        del self._buf[:most]
        return out

    def _line(self) -> bytes:
        end = self._buf.find(b"\r\n")
        while end < 0:
            if len(self._buf) > _MAX_LINE:
                raise ProtocolError("chunk line too long")
            if not self._fill():
                raise ProtocolError("connection closed inside a chunked body")
            end = self._buf.find(b"\r\n")
        line = bytes(self._buf[:end])
        del self._buf[: end + 2]
        return line

    def _chunked(self) -> Iterator[bytes]:
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                while self._line():  # trailer fields, up to the empty line
                    pass
                return
            left = size
            while left:
                part = self._some(left)
                if not part:
                    raise ProtocolError("connection closed inside a chunked body")
                left -= len(part)
                yield part
            if self._line():
                raise ProtocolError("chunk not followed by CRLF")
