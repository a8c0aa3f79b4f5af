"""The scrape thread's blocking fetch (``collector._fetch_sync.PlainFetcher``) against real HTTP targets: the
same body, limits, errors and deadline as the event loop's aiohttp fetch, over one kept-alive connection."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

import collector._fetch
import collector._fetch_sync
import collector._http1
from collector._fetch import scrape_headers
from collector._fetch_sync import DNS_TTL_S, PlainFetcher
from collector.errors import (
    BodyTooLargeError,
    ScrapeConnectError,
    ScrapeError,
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


def test_bad_gzip_is_a_parse_error() -> None:
    target = _Canned(canned(b"not gzip at all", "Content-Encoding: gzip"))
    f = PlainFetcher(target.url)
    try:
        with pytest.raises(
            ScrapeParseError, match="cannot decode the response body: Can not decode content-encoding: gzip"
        ):
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


def _aborted_after(f: PlainFetcher, delay_s: float) -> float:
    """Fetch with a 5 s timeout while another thread calls ``f.abort()`` after ``delay_s`` (what the scrape
    loop does at the deadline); the fetch must fail as that timeout. Returns the seconds it took."""
    timer = threading.Timer(delay_s, f.abort)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(ScrapeTimeoutError, match="timed out after 5s"):
            fetch(f, timeout_s=5.0)
    finally:
        timer.cancel()
    return time.monotonic() - started


@pytest.mark.parametrize("path", ["/slow", "/never"])
def test_the_deadline_holds_for_a_trickling_or_silent_target(path: str) -> None:
    """Per-read timeouts would let /slow (a byte every 50 ms) run forever: abort() from another thread at
    the deadline (what the scrape loop does) ends the fetch within the timeout."""
    with Exporter() as ex:
        f = PlainFetcher(f"http://{ex.address}{path}")
        try:
            assert _aborted_after(f, 0.3) < 2.0
        finally:
            f.close()


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
            "server returned HTTP status 101 Switching Protocols",  # as aiohttp: a status error
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


def _outcome(call: Callable[[], tuple[bytes, str | None]]) -> tuple[str, object]:
    try:
        return "ok", call()[0]
    except ScrapeError as exc:
        return exc.reason, str(exc) if isinstance(exc, (ScrapeParseError, ScrapeStatusError)) else None


def _both(response: bytes) -> tuple[tuple[str, object], tuple[str, object]]:
    """One canned response fetched by the scrape thread's fetcher and by aiohttp's (the event loop's): the
    body, or the error's reason (and text for the parse and status errors, whose words are the same)."""
    target = _Canned(response)
    f = PlainFetcher(target.url)

    async def by_aiohttp() -> tuple[str, object]:
        async with aiohttp.ClientSession() as session:
            try:
                body = await collector._fetch.fetch(
                    session, target.url, HEADERS, timeout_s=2.0, max_body_bytes=10_000_000
                )
                return "ok", body[0]
            except ScrapeError as exc:
                text = str(exc) if isinstance(exc, (ScrapeParseError, ScrapeStatusError)) else None
                return exc.reason, text

    try:
        try:
            mine = _outcome(lambda: fetch(f))
        finally:
            f.close()  # the canned target serves one connection at a time
        return mine, asyncio.run(by_aiohttp())
    finally:
        target.close()


_TEXT = BODY.encode()
_GZ = gzip.compress(_TEXT)
_RAW = zlib.compressobj(wbits=-zlib.MAX_WBITS)
_RAW_DEFLATE = _RAW.compress(_TEXT) + _RAW.flush()


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        # every member of a concatenated gzip stream (the second was dropped)
        (_GZ + gzip.compress(b"second 2\n"), ("Content-Encoding: gzip",), ("ok", _TEXT + b"second 2\n")),
        (_RAW_DEFLATE, ("Content-Encoding: deflate",), ("ok", _TEXT)),  # no zlib header (was a parse error)
        (zlib.compress(_TEXT), ("Content-Encoding: deflate",), ("ok", _TEXT)),
        (_GZ + b"garbage", ("Content-Encoding: gzip",), ("parse", None)),  # was accepted
        (
            _GZ[:-20],
            ("Content-Encoding: gzip",),
            ("ok", None),
        ),  # truncated gzip: what it decoded (was an error)
        (zlib.compress(_TEXT)[:-20], ("Content-Encoding: deflate",), ("connection", None)),
        (b"", ("Content-Encoding: gzip",), ("ok", b"")),
        (_TEXT, ("Content-Encoding: br",), ("connection", None)),  # no brotli package (was parse)
        (_TEXT, ("Content-Encoding: x-unknown",), ("ok", _TEXT)),  # an unknown coding: as is (was parse)
        (b"", ("X-Long: " + "v" * 8190,), ("ok", b"")),
        (b"", ("X-Long: " + "v" * 9000,), ("connection", None)),  # aiohttp's 8,190-byte limit (was accepted)
        (b"", ("X-" + "n" * 9000 + ": v",), ("connection", None)),
    ],
    ids=[
        "gzip-members",
        "raw-deflate",
        "zlib-deflate",
        "gzip-trailing-garbage",
        "gzip-truncated",
        "deflate-truncated",
        "gzip-empty",
        "br",
        "unknown-coding",
        "header-8190",
        "header-value-9000",
        "header-name-9000",
    ],
)
def test_decoding_and_limits_as_aiohttp(
    body: bytes, headers: tuple[str, ...], expected: tuple[str, object]
) -> None:
    mine, theirs = _both(canned(body, *headers))
    assert mine == theirs
    if expected[1] is None and mine[0] == "ok":
        assert isinstance(mine[1], bytes) and _TEXT.startswith(mine[1]) and mine[1]  # a prefix of the text
    else:
        assert mine[0] == expected[0]
        if expected[0] == "ok":
            assert mine[1] == expected[1]


def test_gzip_members_capped_per_piece_both_fetchers() -> None:
    """1,100 small gzip members: one chunk each (chunked) passes in both fetchers, aiohttp counting the
    members per piece llhttp hands it; the same members in one Content-Length body of ~27 KB (one piece)
    fail in both. The thread's fetch counted them over the whole body (the chunked one failed)."""
    members = [gzip.compress(b"m 1\n") for _ in range(1100)]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(m), m) for m in members) + b"0\r\n\r\n"
    head = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    mine, theirs = _both(head.encode() + chunked)
    assert mine == theirs == ("ok", b"m 1\n" * 1100)
    mine, theirs = _both(canned(b"".join(members), "Content-Encoding: gzip"))
    assert mine == theirs and mine[0] == "parse"


def test_switching_protocols_is_a_status_error_as_aiohttp() -> None:
    mine, theirs = _both(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
    assert mine == theirs == ("http_status", "server returned HTTP status 101 Switching Protocols")


def test_the_body_limit_spans_gzip_members() -> None:
    target = _Canned(canned(_GZ + _GZ, "Content-Encoding: gzip"))
    f = PlainFetcher(target.url)
    try:
        assert fetch(f, max_body_bytes=2 * len(_TEXT))[0] == _TEXT * 2
        with pytest.raises(BodyTooLargeError):
            fetch(f, max_body_bytes=2 * len(_TEXT) - 1)
    finally:
        f.close()
        target.close()


def test_one_byte_chunks_cost_the_body_not_an_object_per_byte() -> None:
    """A chunked body in 1-byte chunks: llhttp hands out each chunk apart; gathered as a list of pieces it
    held ~85 B per body byte (the reviewer's 12 MB body: 1 GB) and its final join stalled the event loop."""
    size = 300_000
    payload = bytes(48 + i % 10 for i in range(size))
    chunked = b"".join(b"1\r\n" + payload[i : i + 1] + b"\r\n" for i in range(size)) + b"0\r\n\r\n"
    target = _Canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    f = PlainFetcher(target.url)
    try:
        tracemalloc.start()
        try:
            body = fetch(f, timeout_s=30.0)[0]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        f.close()
        target.close()
    assert body == payload
    assert peak < 8 * size, peak  # the body, its copy and one recv's pieces; was ~85 B a byte


def test_an_idn_host_is_left_to_aiohttp() -> None:
    """A non-ASCII host cannot go in the request head as is (UTF-8 hosts killed the target's scrape loop,
    Latin-1 ones went out as raw bytes): aiohttp sends its IDNA form."""
    for url in ("http://例え.test:9100/metrics", "http://bücher.test/metrics"):
        with pytest.raises(ValueError, match="not an ASCII host"):
            PlainFetcher(url)


@contextlib.contextmanager
def _black_hole() -> Iterator[int]:
    """A loopback port whose accept queue is full: a connect to it hangs (its SYNs are dropped)."""
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(0)
        port = ls.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                fillers.append(s)
            yield port
        finally:
            for s in fillers:
                s.close()


def test_the_deadline_spans_every_address_of_the_connect() -> None:
    """Three addresses that never accept, 0.5 s timeout: each connect gets the time left, not 0.5 s each."""
    with _black_hole() as port:
        f = PlainFetcher(f"http://localhost:{port}/metrics")
        f._addresses = [(socket.AF_INET, ("127.0.0.1", port))] * 3
        f._resolved_at = time.monotonic()
        started = time.monotonic()
        with pytest.raises(ScrapeTimeoutError):
            fetch(f, timeout_s=0.5)
        assert time.monotonic() - started < 1.2  # was 1.5 s


def test_abort_ends_a_connect_in_progress() -> None:
    with _black_hole() as port:
        f = PlainFetcher(f"http://127.0.0.1:{port}/metrics")
        assert _aborted_after(f, 0.2) < 2.0  # was the 5 s timeout


def test_kept_alive_addresses_are_refreshed_after_the_dns_ttl() -> None:
    """A kept-alive connection closed by the target is reopened in the thread: with addresses older than
    the DNS TTL the loop resolves the name again first."""
    with Exporter() as ex:
        ex.set_body(BODY)
        port = ex.address.rsplit(":", 1)[1]
        f = PlainFetcher(f"http://localhost:{port}/metrics")
        try:
            asyncio.run(f.resolve(2.0))
            fetch(f)
            assert not f.needs_address
            f._resolved_at -= DNS_TTL_S + 1
            assert f.needs_address  # was False while the connection lived
        finally:
            f.close()


def test_a_failed_refresh_keeps_the_live_connection_scraping(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS failing while a connection is kept alive: the scrape goes on over the connection (old addresses
    kept), as aiohttp's pooled connection would; the failed refresh is this TTL's attempt."""
    with Exporter() as ex:
        ex.set_body(BODY)
        port = ex.address.rsplit(":", 1)[1]
        f = PlainFetcher(f"http://localhost:{port}/metrics")
        tries: list[str] = []

        def no_dns(*args: object, **kwargs: object) -> list[Any]:
            tries.append("dns")
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

        async def scrape() -> bytes:
            await f.ensure_address(2.0)
            body = fetch(f)[0]
            if f._refresh is not None and not f._refresh.done():
                await asyncio.gather(f._refresh, return_exceptions=True)  # the refresh, done before the end
            return body

        try:
            assert asyncio.run(scrape()) == BODY.encode()
            f._resolved_at -= DNS_TTL_S + 1
            monkeypatch.setattr(socket, "getaddrinfo", no_dns)
            assert asyncio.run(scrape()) == BODY.encode()
            assert tries == ["dns"] and not f.needs_address  # tried once, not again within the TTL
            assert asyncio.run(scrape()) == BODY.encode() and tries == ["dns"]
            f.close()  # no connection: resolving is now the scrape's own step, and its failure the scrape's
            f._resolved_at -= DNS_TTL_S + 1
            with pytest.raises(ScrapeConnectError, match="cannot resolve localhost"):
                asyncio.run(scrape())
        finally:
            f.close()


def test_a_hung_resolver_never_delays_a_scrape_on_a_kept_alive_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The resolver hanging once the addresses are past the TTL (the review's DNS outage): the scrape over
    the open connection does not wait for it (was half the timeout, every scrape), and one refresh at a
    time runs, once per TTL (was one per scrape, each a stuck executor thread)."""
    with Exporter() as ex:
        ex.set_body(BODY)
        port = ex.address.rsplit(":", 1)[1]
        f = PlainFetcher(f"http://localhost:{port}/metrics")
        calls: list[float] = []

        async def hangs(*args: object, **kwargs: object) -> object:
            calls.append(time.monotonic())
            await asyncio.sleep(30)
            raise AssertionError("not reached")

        async def main() -> list[float]:
            await f.ensure_address(2.0)
            assert fetch(f)[0] == BODY.encode()
            monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", hangs)
            waits = []
            for _ in range(3):
                f._resolved_at -= DNS_TTL_S + 1
                started = time.monotonic()
                await f.ensure_address(2.0)
                waits.append(time.monotonic() - started)
                assert fetch(f)[0] == BODY.encode()
                await asyncio.sleep(0)  # the refresh task starts and hangs
            refresh = f._refresh
            assert refresh is not None and not refresh.done()  # still hung
            f.close()  # stops it
            await asyncio.wait_for(asyncio.gather(refresh, return_exceptions=True), 5.0)
            assert refresh.cancelled()
            return waits

        try:
            waits = asyncio.run(main())
        finally:
            f.close()
    assert max(waits) < 0.5  # the timeout's half was 1.0 s
    assert len(calls) == 1  # one refresh running at a time
    assert len(ex.connections) == 1


def test_an_unexpected_error_mid_body_drops_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any exception while a body is read (here one the fetch does not expect) leaves the connection half
    read: it is closed, so the next scrape opens a fresh one instead of reading the rest as a response."""
    with Exporter() as ex:
        ex.set_body(BODY * 40)
        f = PlainFetcher(f"http://{ex.address}/metrics")
        real = collector._http1.Connection.body_parts

        def one_part_then_boom(
            self: collector._http1.Connection, resp: Any, **kwargs: bool
        ) -> Iterator[bytes]:
            for part in real(self, resp, **kwargs):
                yield part
                raise RuntimeError("boom")

        try:
            assert fetch(f)[0] == (BODY * 40).encode()
            with monkeypatch.context() as m:
                m.setattr(collector._http1.Connection, "body_parts", one_part_then_boom)
                with pytest.raises(RuntimeError, match="boom"):
                    fetch(f)
            assert fetch(f)[0] == (BODY * 40).encode()
        finally:
            f.close()
        assert len(ex.connections) == 2


def test_a_failed_connect_withdraws_its_socket_before_closing_it() -> None:
    """abort() must never shut down a closed socket's descriptor number (reused by then, perhaps by another
    thread's socket): the connect hook is told None while the failed socket is still open."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: the connect is refused
    seen: list[socket.socket] = []
    open_when_withdrawn: list[bool] = []

    def hook(sock: socket.socket | None) -> bool:
        if sock is None:
            open_when_withdrawn.append(seen[-1].fileno() != -1)
        else:
            seen.append(sock)
        return True

    with pytest.raises(ConnectionRefusedError):
        collector._http1.Connection([(socket.AF_INET, ("127.0.0.1", port))] * 2, time.monotonic() + 2.0, hook)
    assert open_when_withdrawn == [True, True]
    assert all(sock.fileno() == -1 for sock in seen)  # and closed after


def test_gzip_members_counted_per_piece_as_aiohttp() -> None:
    """aiohttp caps concatenated members at 1,024 within one decompress call, counted afresh each call: a
    body of 1,100 members arriving in two pieces passes, one piece of 1,100 fails, as there."""
    member = gzip.compress(b"x 1\n")
    body = member * 1100
    half = len(member) * 550
    out = bytearray()
    dec = collector._fetch_sync._Decoder("gzip")
    dec.feed(body[:half], out, 10_000_000)
    dec.feed(body[half:], out, 10_000_000)
    dec.finish()
    assert bytes(out) == b"x 1\n" * 1100
    with pytest.raises(ScrapeParseError, match="Can not decode content-encoding: gzip"):
        collector._fetch_sync._Decoder("gzip").feed(body, bytearray(), 10_000_000)


def test_a_failed_setsockopt_closes_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[socket.socket] = []

    class Failing(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

        def setsockopt(self, *args: Any) -> None:
            raise OSError("setsockopt failed")

    with Exporter() as ex:
        f = PlainFetcher(f"http://{ex.address}/metrics")
        monkeypatch.setattr(socket, "socket", Failing)  # the module _http1 uses
        with pytest.raises(ScrapeConnectError, match="setsockopt failed"):
            fetch(f)
        monkeypatch.undo()
    assert made and all(s.fileno() == -1 for s in made)  # closed, not leaked
