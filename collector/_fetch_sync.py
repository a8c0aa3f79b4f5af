"""One plain-HTTP scrape run in the scrape thread itself, so a scrape crosses threads once instead of twice.

With :mod:`collector._fetch` the event loop fetches the body (aiohttp's Python work, ~0.4 µs a sample of the
loop's CPU at 2,000 samples a scrape) and then hands it to a scrape thread for the parse; here the scrape
thread fetches over its own kept-alive connection (:mod:`collector._http1`, blocking) and parses on, while
the event loop only schedules. Used for targets without an http config (no TLS options, credentials or
proxy: :class:`~collector.http_client.ScrapeHTTP` is async and stays on aiohttp), and not for a target that
redirects (:class:`Redirected`: aiohttp follows redirects).

The same contract as :func:`collector._fetch.fetch`: the Accept/gzip headers the caller built, a deadline
over the whole exchange, the *decompressed* body bounded by ``max_body_bytes`` while it streams, the same
error classes. The deadline is enforced from outside the blocked thread: the event loop calls
:meth:`PlainFetcher.abort` when it passes (the socket is shut down, the thread's read returns at once and
the scrape fails as a timeout), so a target trickling bytes fails at ``timeout_s`` like one that never
answers; each socket operation also has the time left as its own timeout, a backstop if no loop is running.

Thread safety: :meth:`fetch` runs in one thread at a time (the scrape loop's), :meth:`abort` may be called
from any thread while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import time
import zlib
from urllib.parse import urlsplit

from collector._fetch import USER_AGENT
from collector._http1 import Address, Connection, ProtocolError, Response
from collector.errors import (
    BodyTooLargeError,
    ScrapeConnectError,
    ScrapeError,
    ScrapeParseError,
    ScrapeStatusError,
    ScrapeTimeoutError,
)

__all__ = ["PlainFetcher", "Redirected"]

_REDIRECTS = frozenset((301, 302, 303, 307, 308))
# a name's addresses serve new connections this long, as aiohttp's DNS cache (ttl_dns_cache=10) does; a kept-
# alive connection is used on as long as it lasts, as aiohttp does
DNS_TTL_S = 10.0
# a background refresh of a kept-alive connection's addresses gives up after this (the resolver's own
# timeouts, 5 s a try by default, usually end it first)
REFRESH_TIMEOUT_S = 10.0


class Redirected(Exception):  # noqa: N818 - a signal to the caller, not an error of the scrape
    """The target answered with a redirect: aiohttp follows those (as Prometheus does by default), so the
    scrape loop hands this target back to :func:`collector._fetch.fetch` for good."""


class PlainFetcher:
    """The blocking GET of one plain ``http://`` target over a kept-alive connection."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.username is not None:
            raise ValueError(f"not a plain http URL: {url}")
        if not parts.netloc.isascii():  # an IDN host: aiohttp sends its punycode (IDNA) form, left to it
            raise ValueError(f"not an ASCII host: {url}")
        self.url = url
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            self._path.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(f"not an ASCII request target: {url}") from None
        self._netloc = parts.netloc  # the Host header: host[:port] as the URL writes it
        try:  # an IP literal needs no resolution; a name is resolved on the event loop (resolve())
            family = socket.AF_INET6 if ipaddress.ip_address(self._host).version == 6 else socket.AF_INET
            self._addresses: list[Address] | None = [(family, (self._host, self._port))]
            self.literal = True
        except ValueError:
            self._addresses = None
            self.literal = False
        self._resolved_at = 0.0
        self._conn: Connection | None = None
        self._head: tuple[dict[str, str], bytes] | None = None  # the request head, built once per headers
        self._lock = threading.Lock()  # guards _aborted and the socket against abort() from another thread
        self._aborted = False
        self._connecting: socket.socket | None = None  # a socket in connect(): abort() shuts it down too
        self._in_flight = False
        self._refresh: asyncio.Task[None] | None = None  # a background refresh of the addresses

    @property
    def needs_address(self) -> bool:
        """True when the next fetch may open a connection to a name not resolved in the last
        :data:`DNS_TTL_S`: the caller resolves it on the event loop (:meth:`ensure_address`), where the
        scrape's deadline can cut a slow DNS answer short (``getaddrinfo`` in this thread could not be
        interrupted). A kept-alive connection may turn out closed by the target and be reopened in the
        thread, so its addresses are refreshed too once they are older than that, in the background (one
        attempt per 10 s a target)."""
        if self.literal:
            return False
        return self._addresses is None or time.monotonic() - self._resolved_at > DNS_TTL_S

    async def ensure_address(self, timeout_s: float) -> None:
        """Before a scrape: resolve the name when the fetch needs addresses it lacks, or refresh them in
        the background when a connection is kept alive. A live connection needs no address, so its scrape
        never waits for DNS (aiohttp's pooled connection does not either); the refresh only readies the
        addresses for a reconnection the thread may have to make."""
        if not self.needs_address:
            return
        if self._conn is None or self._addresses is None:
            await self.resolve(timeout_s)
        else:
            self._refresh_in_background()

    async def resolve(self, timeout_s: float) -> None:
        """Resolve the host on the running loop (its default executor, as aiohttp's threaded resolver
        does), bounded by ``timeout_s``; a failure is the scrape's connect error, a late answer its
        timeout."""
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM), timeout_s
            )
        except TimeoutError as exc:
            raise ScrapeTimeoutError(
                f"scrape timed out after {timeout_s:g}s (resolving {self._host})"
            ) from exc
        except OSError as exc:
            raise ScrapeConnectError(f"cannot resolve {self._host}: {exc}") from exc
        self._addresses = [(family, addr) for family, _, _, _, addr in infos]
        self._resolved_at = time.monotonic()

    def _refresh_in_background(self) -> None:
        """Start one refresh of a kept-alive connection's addresses, not awaited. It counts as this TTL's
        attempt whether it succeeds or not, and only one runs at a time: a DNS outage costs one
        ``getaddrinfo`` (one executor thread) per :data:`DNS_TTL_S` a target, not one per scrape."""
        self._resolved_at = time.monotonic()
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_addresses())

    async def _refresh_addresses(self) -> None:
        """Replace the addresses with fresh ones; on a failure or no answer within
        :data:`REFRESH_TIMEOUT_S` the old ones stay (the connection they serve is fine; a failed
        reconnection forgets them)."""
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM), REFRESH_TIMEOUT_S
            )
        except (TimeoutError, OSError):
            return
        self._addresses = [(family, addr) for family, _, _, _, addr in infos]
        self._resolved_at = time.monotonic()

    def abort(self) -> bool:
        """Fail the fetch in flight as a timeout (its socket is shut down); False if none was in flight."""
        with self._lock:
            if not self._in_flight:
                return False
            self._aborted = True
            sock = self._connecting or (self._conn.sock if self._conn is not None else None)
            if sock is not None:  # under the lock: neither can be closed meanwhile
                with contextlib.suppress(OSError):  # already closed: the thread sees _aborted next
                    sock.shutdown(socket.SHUT_RDWR)  # ends a blocked connect() too
        return True

    def _set_connecting(self, sock: socket.socket | None) -> bool:
        """:class:`Connection`'s hook around each connect: publish the socket to :meth:`abort`; False
        once aborted (no further address is tried)."""
        with self._lock:
            self._connecting = sock
            return not self._aborted

    def close(self) -> None:
        """Close the connection and stop a background refresh (called on the event loop's thread)."""
        if self._refresh is not None:
            with contextlib.suppress(RuntimeError):  # its loop is already closed: nothing left to stop
                self._refresh.cancel()
            self._refresh = None
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def fetch(
        self, headers: dict[str, str], *, timeout_s: float, deadline: float, max_body_bytes: int
    ) -> tuple[bytes, str | None]:
        """GET the target; the body (decompressed) and its Content-Type. Raises a ScrapeError subclass.
        ``deadline`` (``time.monotonic()``): when the scrape must be over, ``timeout_s`` after it was due,
        so time spent waiting for a free scrape thread counts against it."""
        with self._lock:
            self._aborted, self._in_flight = False, True
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            return self._fetch(headers, deadline, max_body_bytes)
        except (ScrapeError, Redirected):
            self._drop()
            raise
        except (OSError, ProtocolError) as exc:
            self._drop()
            if not self.literal:  # the name may point elsewhere now: resolved again before the next try
                self._addresses = None
            if self._aborted or isinstance(exc, TimeoutError):
                raise ScrapeTimeoutError(f"scrape timed out after {timeout_s:g}s") from exc
            raise ScrapeConnectError(
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            ) from exc
        except BaseException:  # anything else may leave a response half read: never reuse that connection
            self._drop()
            raise
        finally:
            with self._lock:
                self._in_flight = False

    def _drop(self) -> None:
        """Close the connection after a failure or a response that ends it (it cannot be reused)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def _request_head(self, headers: dict[str, str]) -> bytes:
        if self._head is None or self._head[0] is not headers:
            lines = [f"GET {self._path} HTTP/1.1", f"Host: {self._netloc}", f"User-Agent: {USER_AGENT}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            self._head = (headers, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return self._head[1]

    def _response(self, headers: dict[str, str], deadline: float) -> tuple[Connection, Response]:
        """Send the request and read the status and headers; once more on a fresh connection if a kept-alive
        one turns out closed by the target (as aiohttp and Prometheus' client do), within the same
        deadline."""
        head = self._request_head(headers)
        for attempt in (0, 1):
            conn = self._conn
            if conn is None:
                if self._addresses is None:  # the caller resolves a name on the loop first
                    raise ScrapeConnectError(f"{self._host}: not resolved")
                conn = Connection(self._addresses, deadline, self._set_connecting)
                with self._lock:
                    self._conn = conn
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            conn.sock.settimeout(left)
            if self._aborted:
                raise TimeoutError
            reused = conn.used
            try:
                conn.request(head)
                return conn, conn.response()
            except (ConnectionResetError, BrokenPipeError, ProtocolError) as exc:
                stale = isinstance(exc, OSError) or str(exc) == "connection closed before the response"
                if not (reused and stale) or attempt or self._aborted:
                    raise
                self._drop()
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch(
        self, headers: dict[str, str], deadline: float, max_body_bytes: int
    ) -> tuple[bytes, str | None]:
        conn, resp = self._response(headers, deadline)
        rh = resp.headers
        if resp.status in _REDIRECTS and rh.get("location"):
            raise Redirected(rh["location"])
        if resp.status != 200:
            raise ScrapeStatusError(f"server returned HTTP status {resp.status} {resp.reason}")
        encoding = rh.get("content-encoding", "").lower()
        if encoding in _UNDECODABLE:  # aiohttp's parser fails the response (a connection error to us)
            raise ScrapeConnectError(f"Can not decode content-encoding: {_UNDECODABLE[encoding]}")
        identity = encoding not in ("gzip", "deflate")  # any other coding: the body as is, as aiohttp does
        if identity and resp.length is not None:
            if resp.length > max_body_bytes:
                raise BodyTooLargeError(
                    "body size limit exceeded: "
                    f"Content-Length {resp.length} > max_body_bytes {max_body_bytes}"
                )
            # the usual case: llhttp frames the Content-Length body; a target trickling it is cut short by
            # abort() at the deadline
            body = b"".join(conn.body_parts(resp))
        else:
            body = self._stream(conn, resp, None if identity else encoding, max_body_bytes)
        if self._aborted:
            raise TimeoutError
        if not resp.keep_alive:
            self._drop()
        return body, rh.get("content-type")

    def _stream(self, conn: Connection, resp: Response, encoding: str | None, max_body_bytes: int) -> bytes:
        """A body of unknown length (chunked, until close) or compressed (``encoding``), read a recv at a
        time and stopped as soon as its decoded size passes ``max_body_bytes``; gathered in one bytearray
        (a list of pieces would hold an object per chunk of a chunked body)."""
        out = bytearray()
        dec = None if encoding is None else _Decoder(encoding)
        for part in conn.body_parts(resp, joined=dec is None):  # a decoder takes llhttp's pieces
            if self._aborted:
                raise TimeoutError
            if dec is None:
                out += part
            else:
                dec.feed(part, out, max_body_bytes + 1 - len(out))
            if len(out) > max_body_bytes:
                raise BodyTooLargeError(
                    f"body size limit exceeded: more than max_body_bytes {max_body_bytes} bytes"
                )
        if dec is not None:
            dec.finish()
        return bytes(out)


# Content-Encodings aiohttp recognises but cannot decode without an optional package (not installed here)
_UNDECODABLE = {"br": "brotli (br)", "zstd": "zstandard (zstd)"}
_MAX_MEMBERS = 1024  # aiohttp's MAX_DECOMPRESS_MEMBERS


class _Decoder:
    """gzip or deflate decoded as aiohttp 3.14 does (``DeflateBuffer``, ``ZLibDecompressor``): gzip only
    in its gzip wrapper, deflate in its zlib wrapper or raw (the first byte tells); every member of a
    concatenated stream (up to 1,024 within one :meth:`feed`, as aiohttp counts them within one
    ``decompress_sync`` call, fed llhttp's pieces as aiohttp is: a chunk of a chunked body, a recv's worth
    of a Content-Length one; more members arriving in smaller pieces pass, as there); bytes after the
    last member that do not start a valid one fail the body; a truncated gzip stream yields what it
    decoded, a truncated deflate one fails (reason ``connection``, as aiohttp's does). Errors carry
    aiohttp's words (``Can not decode content-encoding: gzip``)."""

    __slots__ = ("_encoding", "_mode", "_obj", "_seen")

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._mode = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(self._mode)
        self._seen = False

    def _error(self) -> ScrapeParseError:
        return ScrapeParseError(
            f"cannot decode the response body: Can not decode content-encoding: {self._encoding}"
        )

    def feed(self, data: bytes, out: bytearray, budget: int) -> None:
        """Decode ``data`` into ``out``, at most ``budget`` bytes more (past it the caller fails the body:
        going over by one byte is enough to know)."""
        if not data:
            return
        if not self._seen:
            self._seen = True
            if self._encoding == "deflate" and data[0] & 0xF != 8:  # no zlib header: raw deflate
                self._mode = -zlib.MAX_WBITS
                self._obj = zlib.decompressobj(self._mode)
        pending: bytes = data
        members = 0 if self._obj.eof else 1  # per call, as aiohttp: the member in progress counts
        while pending:
            obj = self._obj
            if obj.eof:  # the last member ended: these bytes must start the next one
                members += 1
                if members > _MAX_MEMBERS:
                    raise self._error()
                obj = self._obj = zlib.decompressobj(self._mode)
            try:
                chunk = obj.decompress(pending, budget)
            except zlib.error as exc:
                raise self._error() from exc
            out += chunk
            budget -= len(chunk)
            if budget <= 0:  # past the limit (decompress stopped there): the caller fails the body
                return
            pending = obj.unused_data if obj.eof else b""

    def finish(self) -> None:
        """The body ended: a deflate stream must be complete (aiohttp's ``feed_eof``, whose error comes out
        of its parser as a connection error), a gzip one need not."""
        if self._seen and self._encoding == "deflate" and not self._obj.eof:
            raise ScrapeConnectError("truncated deflate stream")
