"""A stranger holding HTTP connections open against a real ``paramedic serve`` (found by stop 33's audit).

uvicorn times a connection out only between requests, so a connection that never finishes its request head
was held for ever: 1,600 of them from one client, with no credentials, took every file descriptor of a
server started at an open-files limit of 1,536 (``/-/healthy`` and queries timed out, scrapes failed with
"Too many open files"). The attacker here connects from 127.0.0.2 (not a trusted proxy; the test's own
probes come from 127.0.0.1), so its connections over ``max_connections_per_client`` are closed at once, and
a head not finished within ``request_head_timeout_s`` is closed.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress

import httpx
import pytest

from tests.support.hostile import Target, accept_flood, metric, running_target
from tests.support.servers import closed_by_peer
from tests.support.stranger import NO_ADDRESS, non_loopback_address

pytestmark = pytest.mark.timeout(240)

LOW = 1536  # the open-files limit the server starts with (as in test_fds_hostile)
ATTACK = 1600  # more connections than that
HEAD_TIMEOUT_S = 3.0
ATTACKER = "127.0.0.2"  # loopback, but not the trusted proxy 127.0.0.1
ROOMY = 16384  # an open-files limit where the HTTP backlog is its full 512 (paramedic.fds.http_backlog)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    # no stream log listeners: their accept bursts would not fit LOW with the HTTP server's (paramedic.fds)
    extra = {
        "server": {"limits": {"request_head_timeout_s": HEAD_TIMEOUT_S}},
        "logs": {"relp": None, "syslog_tcp": None},
    }
    with running_target(tmp_path_factory.mktemp("serve-conns"), extra_config=extra, nofile=(LOW, LOW)) as t:
        yield t


def _half_open(target: Target, stack: ExitStack) -> socket.socket | None:
    """A connection from :data:`ATTACKER` that sends the start of a request head and never ends it (None when
    the connect itself failed)."""
    try:
        s = socket.create_connection(
            ("127.0.0.1", target.ports["http"]), timeout=2, source_address=(ATTACKER, 0)
        )
        stack.enter_context(s)
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    except OSError:
        return None
    return s


def test_one_client_cannot_hold_the_servers_descriptors(target: Target) -> None:
    refused = ("paramedic_http_connections_refused_total", "max_connections_per_client")
    before = metric(target, refused[0], reason=refused[1])
    with ExitStack() as stack:
        held = [s for s in (_half_open(target, stack) for _ in range(ATTACK)) if s is not None]
        assert len(held) > LOW - 64  # the connects themselves succeed: the server closes them
        target.assert_alive()  # /-/healthy and the scraped probe, while the attacker holds what it may
        # every one is closed by the server: at once over the cap, the others at the head deadline
        still_open = [s for s in held if not closed_by_peer(s, 0.01)]
        assert len(still_open) <= 64, len(still_open)
        assert all(closed_by_peer(s, HEAD_TIMEOUT_S + 10) for s in still_open)
    assert metric(target, refused[0], reason=refused[1]) > before  # the per-client cap closed some at once
    target.assert_alive()


def test_a_request_head_never_finished_is_closed(target: Target) -> None:
    with ExitStack() as stack:
        s = _half_open(target, stack)
        assert s is not None
        assert closed_by_peer(s, HEAD_TIMEOUT_S + 10), "a half-sent head was held past request_head_timeout_s"
        idle = socket.create_connection(("127.0.0.1", target.ports["http"]), timeout=2)
        stack.enter_context(idle)
        assert closed_by_peer(idle, HEAD_TIMEOUT_S + 10), "a connection that sent nothing was held"
    assert metric(target, "paramedic_http_connections_refused_total", reason="request_head_timeout") >= 2
    target.assert_alive()


def test_a_slow_request_being_answered_is_not_cut(target: Target) -> None:
    """The deadline is for the head only: a request whose answer lasts longer (a live tail, open until its
    client leaves) is not closed by it."""
    deadline = time.monotonic() + HEAD_TIMEOUT_S * 2
    timeout = httpx.Timeout(5.0, read=HEAD_TIMEOUT_S * 2)
    with (
        httpx.Client(base_url=target.base_url, headers=target.headers("viewer"), timeout=timeout) as c,
        c.stream("GET", "/api/v1/logs/tail", params={"q": "*"}) as r,
    ):
        assert r.status_code == 200
        try:
            for _ in r.iter_raw():  # whatever the tail sends until past the deadline
                if time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass  # nothing more was sent, and the connection stayed open past the head deadline
        assert time.monotonic() > deadline, "the tail ended before the head deadline had passed twice"
    target.assert_alive()


def _connect(target: Target, source: str, stack: ExitStack) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", target.ports["http"]), timeout=5, source_address=(source, 0))
    return stack.enter_context(s)


def _read_until_open_past(s: socket.socket, deadline: float) -> bytes:
    """What ``s`` received until ``deadline``; fails if the server closed it before then."""
    got = b""
    while (left := deadline - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            break
        assert chunk, f"closed by the server before the deadline; received {got[:300]!r}"
        got += chunk
    return got


def test_a_pipelined_long_answer_is_not_cut_at_the_head_deadline(target: Target) -> None:
    """F1: uvicorn starts a pipelined request inside on_response_complete; the head deadline armed after it
    cut the second request's answer (a live tail) at request_head_timeout_s."""
    before = metric(target, "paramedic_http_connections_refused_total", reason="request_head_timeout")
    auth = f"Authorization: Bearer {target.tokens['viewer']}\r\n".encode()
    with ExitStack() as stack:
        s = _connect(target, "127.0.0.1", stack)
        s.sendall(
            b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"GET /api/v1/logs/tail?q=* HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + b"\r\n"
        )
        got = _read_until_open_past(s, time.monotonic() + HEAD_TIMEOUT_S * 2.5)
        assert got.count(b"HTTP/1.1 200") == 2, got[:500]
    after = metric(target, "paramedic_http_connections_refused_total", reason="request_head_timeout")
    assert after == before  # F6: nothing was counted as a head timeout either
    target.assert_alive()


def _answered(s: socket.socket) -> bool:
    s.settimeout(10)
    got = b""
    try:
        while chunk := s.recv(65536):
            got += chunk
    except OSError:
        pass
    return got.startswith(b"HTTP/1.1 200")


def _full_capacity_again(target: Target, source: str, timeout_s: float = 20.0) -> bool:
    """Whether ``source`` can again hold max_connections_per_client (64) connections that are all served
    (polled: the server processes the previous closes asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with ExitStack() as stack:
            socks = [_connect(target, source, stack) for _ in range(64)]
            for s in socks:
                s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if all(_answered(s) for s in socks):
                return True
    return False


def _reset(s: socket.socket) -> None:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


@pytest.mark.parametrize(
    ("path", "send", "close"),
    [
        ("normal", b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", socket.socket.close),
        ("reset", b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n", _reset),
        ("h11-error", b"NOT HTTP AT ALL\r\n\r\n", socket.socket.close),
        (
            "upgrade",
            b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            socket.socket.close,
        ),
    ],
)
def test_an_address_whose_connections_closed_can_connect_again(
    target: Target, path: str, send: bytes, close: Callable[[socket.socket], None]
) -> None:
    """F3/F7: every way a connection ends gives its slot back; a leaked count locks the address out."""
    source = {"normal": "127.0.0.3", "reset": "127.0.0.4", "h11-error": "127.0.0.5", "upgrade": "127.0.0.6"}[
        path
    ]
    for _ in range(2):  # twice the cap in all: a slot leaked per connection would lock the address out
        socks = []
        with ExitStack() as stack:
            for _ in range(64):
                s = socket.create_connection(
                    ("127.0.0.1", target.ports["http"]), timeout=5, source_address=(source, 0)
                )
                stack.callback(close, s)
                s.sendall(send)
                socks.append(s)
            if path != "reset":
                for s in socks:  # the server's answer (or its close) first: the path under test
                    s.settimeout(10)
                    with suppress(OSError):
                        s.recv(65536)
    assert _full_capacity_again(target, source), f"{source} locked out after {path} closes"
    target.assert_alive()


def test_a_request_body_trickled_is_cut(target: Target) -> None:
    """F2: a whole head then a body a byte at a time held the connection for ever (Content-Length 1000 at a
    few bytes a second); the body must average MIN_BODY_RATE over each request_head_timeout_s window."""
    before = metric(target, "paramedic_http_connections_refused_total", reason="request_body_timeout")
    with ExitStack() as stack:
        s = _connect(target, "127.0.0.7", stack)
        s.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        deadline = time.monotonic() + HEAD_TIMEOUT_S * 3 + 10
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                s.sendall(b"a")
            except OSError:
                closed = True
                break
            closed = closed_by_peer(s, 0.5)  # the pause between two bytes, watching for the close
        assert closed, "a body trickled a byte every 0.5 s was held past two body windows"
    after = metric(target, "paramedic_http_connections_refused_total", reason="request_body_timeout")
    assert after > before
    target.assert_alive()


def test_a_slow_but_steady_body_is_not_cut(target: Target) -> None:
    """A body sent at 1.6 KB/s (above MIN_BODY_RATE) for longer than two windows is answered."""
    body = b"query=" + b"a" * 12_000  # a metric name: the app reads the whole body, then answers 200
    auth = f"Authorization: Bearer {target.tokens['viewer']}\r\n".encode()
    with ExitStack() as stack:
        s = _connect(target, "127.0.0.8", stack)
        s.sendall(
            b"POST /api/v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            + auth
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        started = time.monotonic()
        for i in range(0, len(body) - 400, 400):  # all but the last piece (which brings the answer)
            s.sendall(body[i : i + 400])
            assert not closed_by_peer(s, 0.25), "cut while the body arrived at 1.6 KB/s"
        assert time.monotonic() - started > HEAD_TIMEOUT_S * 2
        s.sendall(body[len(body) - 400 :])
        s.settimeout(10)
        assert s.recv(100).startswith(b"HTTP/1.1 200"), "no answer after a steady body"
    target.assert_alive()


@pytest.fixture
def stranger() -> str:
    """This host's non-loopback address; without one the test is deselected, or fails when CI is set."""
    address = non_loopback_address()
    if address is None:
        pytest.fail(f"{NO_ADDRESS}: CI is set, so the real-server HTTP cap checks must run")
    return address


@pytest.fixture(scope="module")
def small_cap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    limits = {"max_connections": 8, "max_connections_per_client": 8}
    extra = {"server": {"limits": limits}, "logs": {"relp": None, "syslog_tcp": None}}
    with running_target(tmp_path_factory.mktemp("serve-small-cap"), extra_config=extra) as t:
        yield t


@pytest.mark.stranger_address
def test_strangers_at_the_total_cap_do_not_lock_out_local_health_checks(
    small_cap: Target, stranger: str
) -> None:
    """F2: a stranger holding max_connections idle connections had every loopback health check and the
    local scraper refused; loopback (and trusted proxies) now have their own reserve."""
    with ExitStack() as stack:
        held = [_connect(small_cap, stranger, stack) for _ in range(8)]
        extra = _connect(small_cap, stranger, stack)  # over both caps: closed at once
        assert closed_by_peer(extra, 10)
        assert not any(closed_by_peer(s, 0.01) for s in held)  # the 8 are held
        small_cap.assert_alive()  # /-/healthy and a query from 127.0.0.1, while the stranger holds the cap
    small_cap.assert_alive()


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    limits = {"max_connections": 8, "max_connections_per_client": 8}
    extra = {"server": {"limits": limits}, "logs": {"relp": None, "syslog_tcp": None}}
    with running_target(tmp_path_factory.mktemp("serve-flood"), extra_config=extra, nofile=(LOW, LOW)) as t:
        yield t


def _flood(port: int, rounds: int, per_round: int, source: str = ATTACKER) -> None:
    """:func:`accept_flood` from :data:`ATTACKER` unless told otherwise."""
    accept_flood(port, rounds, per_round, source)


def test_an_accept_flood_does_not_run_the_server_out_of_descriptors(flooded: Target) -> None:
    """M1: asyncio accepts up to the backlog per loop pass and the refused connections close a pass or two
    later: with max_connections 8 and backlog 512, 16,000 connects held 1,554 descriptors at the peak and a
    server at an open-files limit of 1,536 failed accept() with EMFILE. The budget now reserves three
    backlogs and the backlog is smaller where the limit is tight."""
    _flood(flooded.ports["http"], rounds=4, per_round=4000)
    assert metric(flooded, "paramedic_accept_errors_total") == 0
    flooded.assert_alive()


def _live_tail(target: Target, stack: ExitStack, source: str) -> None:
    """A live log tail from ``source``: a request being answered, which eviction never takes."""
    s = _connect(target, source, stack)
    headers = "".join(f"{k}: {v}\r\n" for k, v in target.headers("viewer").items())
    s.sendall(f"GET /api/v1/logs/tail?q=* HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    s.settimeout(10)
    assert s.recv(64).startswith(b"HTTP/1.1 200")


@pytest.fixture(scope="module")
def roomy_flooded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A server at an open-files limit where the HTTP backlog is its full 512 (one accept pass can then
    take 512 connections, all refused and still in uvicorn's ``connections`` until their close runs)."""
    limits = {"max_connections": 8, "max_connections_per_client": 8}
    extra = {"server": {"limits": limits}, "logs": {"relp": None, "syslog_tcp": None}}
    nofile = (ROOMY, ROOMY)
    with running_target(tmp_path_factory.mktemp("serve-flood-roomy"), extra_config=extra, nofile=nofile) as t:
        yield t


@pytest.mark.stranger_address
def test_health_checks_are_answered_throughout_an_accept_flood(roomy_flooded: Target, stranger: str) -> None:
    """Third review M1: the loopback bound was checked against uvicorn's ``connections``, which during a
    flood still holds hundreds of connections refused in the same accept pass (and connections reset before
    they were made, with no address, were exempt): with a stranger's live tails holding max_connections
    (nothing to evict), health checks from 127.0.0.1 were refused far below max_connections +
    EXEMPT_RESERVE. The stranger is this host's own non-loopback address (loopback peers are exempt, so a
    127.0.0.2 attacker never reached the bound), the backlog is 512; a thread polls /-/healthy on a new
    connection each time while 4 x 4,000 connects come from the stranger. Fails with d086248's guard."""
    target = roomy_flooded
    url = f"http://127.0.0.1:{target.ports['http']}/-/healthy"
    stop = threading.Event()
    answered: list[int] = []
    failures: list[object] = []

    def poll() -> None:
        while not stop.is_set():
            try:  # a new connection per poll: each goes through the guard's admission
                status = httpx.get(url, timeout=10, headers={"Connection": "close"}).status_code
                (answered if status == 200 else failures).append(status)
            except httpx.HTTPError as exc:
                failures.append(repr(exc))

    with ExitStack() as tails:
        for _ in range(8):  # the fixture's max_connections and per-client cap
            _live_tail(target, tails, stranger)
        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            _flood(target.ports["http"], rounds=4, per_round=4000, source=stranger)
        finally:
            stop.set()
            thread.join(30)
    assert answered, "no health check completed during the flood"
    assert not failures, (len(failures), len(answered), failures[:3])
    target.assert_alive()


@pytest.fixture(scope="module")
def pipelined_cap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    limits = {"max_connections": 8, "max_connections_per_client": 8, "request_head_timeout_s": 2.0}
    extra = {"server": {"limits": limits}, "logs": {"relp": None, "syslog_tcp": None}}
    with running_target(tmp_path_factory.mktemp("serve-pipelined"), extra_config=extra) as t:
        yield t


@pytest.mark.stranger_address
def test_pipelined_requests_never_read_do_not_hold_the_cap(pipelined_cap: Target, stranger: str) -> None:
    """Fourth review H1: 8 connections from one stranger, each pipelining 400 requests for /metrics and
    never reading, held the total cap for ever (each next answer waited for a drain that never came, so it
    was never complete: no deadline and no eviction applied) and every other remote client was reset. Now
    the next request waits while writing is paused, and the unread answer's drain deadline closes them."""
    port = pipelined_cap.ports["http"]
    requests = f"GET /metrics HTTP/1.1\r\nHost: {stranger}\r\n\r\n".encode() * 400
    with ExitStack() as stack:
        for _ in range(8):
            s = stack.enter_context(socket.socket())
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.bind((stranger, 0))
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            with suppress(BlockingIOError):
                s.send(requests)
        deadline = time.monotonic() + 60

        def drained() -> float:
            return metric(
                pipelined_cap, "paramedic_http_connections_refused_total", reason="response_drain_timeout"
            )

        while drained() < 8 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert drained() == 8
        other = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(stranger, 0))
        with stack.enter_context(other):
            other.sendall(f"GET /-/healthy HTTP/1.1\r\nHost: {stranger}\r\n\r\n".encode())
            assert other.recv(64).startswith(b"HTTP/1.1 200"), "another remote client was locked out"
    pipelined_cap.assert_alive()
