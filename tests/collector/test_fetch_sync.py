"""The scrape thread's blocking fetch (``collector._fetch_sync.PlainFetcher``) against real HTTP targets: the
same body, limits, errors and deadline as the event loop's aiohttp fetch, over one kept-alive connection."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time

import pytest

from collector._fetch import scrape_headers
from collector._fetch_sync import PlainFetcher
from collector.errors import (
    BodyTooLargeError,
    ScrapeConnectError,
    ScrapeParseError,
    ScrapeStatusError,
    ScrapeTimeoutError,
)
from tests.collector.exporters import Exporter

BODY = "".join(f'load{{i="{i}"}} {i}\n' for i in range(500))
HEADERS = scrape_headers(1.0)


def fetch(
    f: PlainFetcher, *, timeout_s: float = 2.0, max_body_bytes: int = 10_000_000
) -> tuple[bytes, str | None]:
    return f.fetch(
        HEADERS, timeout_s=timeout_s, deadline=time.monotonic() + timeout_s, max_body_bytes=max_body_bytes
    )


def test_gzip_body_decoded_and_the_connection_kept_alive() -> None:
    with Exporter() as ex:
        ex.set_body(BODY)
        f = PlainFetcher(f"http://{ex.address}/metrics?x=1")
        try:
            for _ in range(3):
                body, ctype = fetch(f)
                assert body == BODY.encode()
                assert ctype == "text/plain; version=0.0.4; charset=utf-8"
        finally:
            f.close()
        _, headers = ex.requests[-1]
        assert headers["Accept-Encoding"] == "gzip"  # the exporter gzipped: the body above was decoded
        assert headers["X-Prometheus-Scrape-Timeout-Seconds"] == "1"
        assert headers["User-Agent"].startswith("Paramedic-Collector/")
        assert len(ex.connections) == 1  # three scrapes, one connection


def test_a_connection_closed_by_the_target_is_reopened() -> None:
    with Exporter() as ex:
        ex.set_body(BODY)
        f = PlainFetcher(f"http://{ex.address}/metrics")
        try:
            fetch(f)
            with ex.lock:  # the target drops its idle keep-alive connection
                for conn in ex.connections:
                    conn.shutdown(socket.SHUT_RDWR)
            assert fetch(f)[0] == BODY.encode()
        finally:
            f.close()
        assert len(ex.connections) == 2


def test_body_size_limit_by_content_length_streamed_and_decompressed() -> None:
    with Exporter() as ex:
        ex.set_body(BODY)
        f = PlainFetcher(f"http://{ex.address}/metrics")
        try:
            # gzip: the limit applies to the decompressed size, which only the stream tells
            with pytest.raises(BodyTooLargeError, match="more than max_body_bytes 1000 bytes"):
                fetch(f, max_body_bytes=1000)
            assert fetch(f, max_body_bytes=len(BODY))[0] == BODY.encode()  # exactly the limit is fine
        finally:
            f.close()
        endless = PlainFetcher(f"http://{ex.address}/huge")
        try:
            with pytest.raises(BodyTooLargeError):
                fetch(endless, max_body_bytes=1_000_000)
        finally:
            endless.close()
        plain = PlainFetcher(f"http://{ex.address}/status500")  # Content-Length 4, not gzipped
        try:
            with pytest.raises(ScrapeStatusError, match="HTTP status 500"):
                fetch(plain)
        finally:
            plain.close()


def test_content_length_over_the_limit_fails_before_the_body() -> None:
    with Exporter() as ex:
        ex.set_body("x" * 5000, path="/big")
        f = PlainFetcher(f"http://{ex.address}/big")
        try:
            with pytest.raises(BodyTooLargeError, match="Content-Length 5000 > max_body_bytes 100"):
                f.fetch({"Accept": "*/*"}, timeout_s=2, deadline=time.monotonic() + 2, max_body_bytes=100)
            for _ in range(2):  # no gzip asked: the body is read as one Content-Length read, kept alive
                body = f.fetch(
                    {"Accept": "*/*"}, timeout_s=2, deadline=time.monotonic() + 2, max_body_bytes=5000
                )
                assert body == (b"x" * 5000, "text/plain; version=0.0.4; charset=utf-8")
        finally:
            f.close()


class _Canned:
    """A target that answers every request with the same raw HTTP response (``close``: then closes the
    connection, and accepts the next one)."""

    def __init__(self, response: bytes, *, close: bool = False) -> None:
        self._response = response
        self._close = close
        self.connections = 0
        self._stopping = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/metrics"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._sock.settimeout(0.05)  # accept() does not wake up when another thread closes the socket
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.connections += 1
            with conn:
                while conn.recv(65536):
                    conn.sendall(self._response)
                    if self._close:
                        break

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._sock.close()


def canned(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (gzip.compress(BODY.encode())[:-20], "truncated gzip stream"),
        (b"not gzip at all", "Error -3 while decompressing data"),
    ],
)
def test_bad_gzip_is_a_parse_error(body: bytes, error: str) -> None:
    target = _Canned(canned(body, "Content-Encoding: gzip"))
    f = PlainFetcher(target.url)
    try:
        with pytest.raises(ScrapeParseError, match=f"cannot decode the response body: {error}"):
            fetch(f)
    finally:
        f.close()
        target.close()


def test_chunked_body_and_no_content_type() -> None:
    chunks = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in (b"a 1\n", b"b 2\n")) + b"0\r\n\r\n"
    target = _Canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    f = PlainFetcher(target.url)
    try:
        assert fetch(f) == (b"a 1\nb 2\n", None)
        assert fetch(f) == (b"a 1\nb 2\n", None)  # the same connection: the chunked body was read to its end
    finally:
        f.close()
        target.close()


@pytest.mark.parametrize("path", ["/slow", "/never"])
def test_the_deadline_holds_for_a_trickling_or_silent_target(path: str) -> None:
    """Per-read timeouts would let /slow (a byte every 50 ms) run forever: abort() from another thread at
    the deadline (what the scrape loop does) ends the fetch within the timeout."""
    with Exporter() as ex:
        f = PlainFetcher(f"http://{ex.address}{path}")
        timer = threading.Timer(0.3, f.abort)
        started = time.monotonic()
        timer.start()
        try:
            with pytest.raises(ScrapeTimeoutError, match="timed out after 5s"):
                fetch(f, timeout_s=5.0)
        finally:
            timer.cancel()
            f.close()
        assert time.monotonic() - started < 2.0


def test_a_deadline_passed_while_queued_fails_without_a_request() -> None:
    with Exporter() as ex:
        ex.set_body(BODY)
        f = PlainFetcher(f"http://{ex.address}/metrics")
        with pytest.raises(ScrapeTimeoutError):
            f.fetch(HEADERS, timeout_s=1, deadline=time.monotonic() - 0.01, max_body_bytes=10_000_000)
        assert ex.count() == 0
        assert not f.abort()  # nothing in flight any more


def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        f = PlainFetcher(f"http://127.0.0.1:{port}/metrics")
        with pytest.raises(ScrapeConnectError, match="ConnectionRefusedError"):
            fetch(f)


def test_only_plain_http_urls() -> None:
    with pytest.raises(ValueError, match="not a plain http URL"):
        PlainFetcher("https://example.invalid/metrics")


def canned_fetch(
    response: bytes, *, close: bool = False, times: int = 1
) -> tuple[list[bytes | str | None], int]:
    """Fetch ``times`` from a target answering ``response``; the results (or error texts) and connections."""
    target = _Canned(response, close=close)
    f = PlainFetcher(target.url)
    out: list[bytes | str | None] = []
    try:
        for _ in range(times):
            try:
                body, ctype = fetch(f)
                out += [body, ctype]
            except (ScrapeConnectError, ScrapeStatusError) as exc:
                out.append(str(exc))
    finally:
        f.close()
        target.close()
    return out, target.connections


def test_http1_framing_chunked_extensions_and_trailers() -> None:
    body = b"4;ext=1\r\na 1\n\r\n4\r\nb 2\n\r\n0\r\nX-Trailer: t\r\n\r\n"
    out, conns = canned_fetch(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body, times=2)
    assert out == [b"a 1\nb 2\n", None] * 2 and conns == 1


def test_http1_framing_until_close_and_http10() -> None:
    out, conns = canned_fetch(
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nup 1\n", close=True, times=2
    )
    assert out == [b"up 1\n", "text/plain"] * 2 and conns == 2  # no length: the body ends the connection
    out, conns = canned_fetch(canned(b"up 1\n", "Connection: close"), close=True, times=2)
    assert out == [b"up 1\n", None] * 2 and conns == 2


def test_http1_interim_response_skipped_and_header_case() -> None:
    response = b"HTTP/1.1 100 Continue\r\n\r\n" + canned(b"up 1\n", "content-TYPE: text/plain")
    assert canned_fetch(response)[0] == [b"up 1\n", "text/plain"]


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "ProtocolError: malformed response head: Expected HTTP/"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "ProtocolError: malformed response head: "),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "ProtocolError: connection closed after 5 of 10",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "ProtocolError: malformed response body: Invalid character in chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab",
            "ProtocolError: connection closed inside a chunked body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            "malformed response head: Invalid character in Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nup 1\n",
            "malformed response head: Duplicate Content-Length",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "ProtocolError: truncated response head"),
        (b"", "ProtocolError: connection closed before the response"),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "ProtocolError: the target switched protocols",
        ),
        (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
            "HTTP status 503 Service Unavailable",
        ),
    ],
)
def test_http1_malformed_or_failed_responses(response: bytes, error: str) -> None:
    """What llhttp rejects, or a connection ending inside the response, is the scrape's connect error with
    llhttp's reason; the framing is llhttp's, not ours."""
    out, _ = canned_fetch(response, close=True)
    assert len(out) == 1 and error in str(out[0]), out


def test_http1_head_longer_than_the_limit() -> None:
    """llhttp sets no limit on a response head: ours (64 KiB) stops a target sending headers forever."""
    huge = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 70_000 + b"\r\n\r\n"
    out, _ = canned_fetch(huge, close=True)
    assert out == ["ProtocolError: response head longer than 65536 bytes"]


def test_http1_data_after_the_response_keeps_the_body_not_the_connection() -> None:
    """Bytes after a complete response are not ours to parse: the body stands, the connection is closed."""
    out, conns = canned_fetch(canned(b"up 1\n") + b"HTTP/1.1 200 OK\r\n", close=True, times=2)
    assert out == [b"up 1\n", None] * 2 and conns == 2


def test_http1_transfer_encoding_with_content_length_is_refused() -> None:
    """Both framings at once (a request-smuggling pattern): llhttp refuses the response outright."""
    body = b"4\r\nup 1\r\n0\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    out, _ = canned_fetch(response, close=True)
    assert out == [
        "ProtocolError: malformed response head: Transfer-Encoding can't be present with Content-Length"
    ]


def test_a_host_name_is_resolved_on_the_event_loop() -> None:
    """A name is resolved by the loop (where the deadline can cut it short), never in the fetch thread; its
    addresses serve a reconnection, and a failed connection forgets them."""
    with Exporter() as ex:
        ex.set_body(BODY)
        port = ex.address.rsplit(":", 1)[1]
        f = PlainFetcher(f"http://localhost:{port}/metrics")
        try:
            assert f.needs_address
            with pytest.raises(ScrapeConnectError, match="not resolved"):
                fetch(f)
            asyncio.run(f.resolve(2.0))
            assert not f.needs_address
            assert fetch(f)[0] == BODY.encode()
            with ex.lock:  # the target drops its idle keep-alive connection: reopened, no new resolution
                for conn in ex.connections:
                    conn.shutdown(socket.SHUT_RDWR)
            assert fetch(f)[0] == BODY.encode() and len(ex.connections) == 2
        finally:
            f.close()
    assert not f.needs_address  # resolved under DNS_TTL_S ago
    with pytest.raises(ScrapeConnectError, match="ConnectionRefusedError"):
        fetch(f)  # the target is gone
    assert f.needs_address  # a failed connection forgets the addresses
    assert not PlainFetcher(f"http://127.0.0.1:{port}/").needs_address  # an IP literal: never


def test_a_slow_resolution_is_the_scrape_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(*args: object, **kwargs: object) -> object:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    async def main() -> float:
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", never)
        f = PlainFetcher("http://paramedic-target.invalid:9100/metrics")
        started = time.monotonic()
        with pytest.raises(ScrapeTimeoutError, match=r"resolving paramedic-target\.invalid"):
            await f.resolve(0.2)
        return time.monotonic() - started

    assert asyncio.run(main()) < 2.0


def test_an_unknown_host_is_a_connect_error() -> None:
    f = PlainFetcher("http://paramedic-target.invalid:9100/metrics")
    with pytest.raises(ScrapeConnectError, match=r"cannot resolve paramedic-target\.invalid"):
        asyncio.run(f.resolve(5.0))


def test_http1_endless_header_stopped_at_the_limit() -> None:
    """One header that never ends (httptools holds a header until its end): stopped after 64 KiB fed."""
    out, _ = canned_fetch(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 200_000, close=True)
    assert out == ["ProtocolError: response head longer than 65536 bytes"]
