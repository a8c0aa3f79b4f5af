"""paramedic._http_conns in process: slots released on a WebSocket upgrade, the oldest waiting connection
closed at the total cap, IPv6 clients counted by /64 (the hostile tests run the rest against a real serve)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import pytest
from prometheus_client import CollectorRegistry
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle
from uvicorn.server import ServerState

import paramedic._http_conns as http_conns
from paramedic._http_conns import _GuardedH11, client_key, guarded_h11
from paramedic.cluster.api import LEADER_PROXY_CONNECTIONS
from paramedic.config import LimitsConfig

pytestmark = pytest.mark.timeout(60)


BIG = 1024 * 1024  # an answer far over the server's (test-shrunk) send buffer
STARTED: list[str] = []  # paths of the requests the app began to answer (not /stream, /tail)


async def _app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b"ok"
    if scope["path"] == "/big":
        body = b"x" * BIG  # one send: the whole answer goes to the write buffer and the response completes
    elif scope["path"] == "/late":  # reads its body only after a while (100-continue is sent then)
        await asyncio.sleep(1.0)
        received = b""
        while True:
            message = await receive()
            received += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = str(len(received)).encode()
    elif scope["path"] == "/early":  # refuses a body without reading it, with a large answer
        body = b"y" * BIG
        STARTED.append(scope["path"])
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    elif scope["path"] == "/upload":
        await receive()
    elif scope["path"] == "/stream":  # a download as fast as the client reads (send waits for the drain)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(4096):  # 256 MiB; once the client is gone send returns at once: yield each time
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})
        return
    elif scope["path"] == "/tail":  # a live tail: a small event every 10 ms, then the end
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(int(scope["query_string"] or b"100")):
            await send({"type": "http.response.body", "body": b"e" * 100, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    STARTED.append(scope["path"])
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _FakeWebSocket(asyncio.Protocol):
    """Takes an upgraded connection over and holds it (as uvicorn's WebSocket protocols do)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any]) -> None:
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport


async def _poll(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def _serve(
    cls: type[_GuardedH11], **config: Any
) -> tuple[asyncio.Server, int, Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]]:
    cfg = Config(_app, http=cls, lifespan="off", **config)
    cfg.load()
    state = ServerState()
    server = await asyncio.get_running_loop().create_server(
        lambda: cls(config=cfg, server_state=state, app_state={}), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    return server, port, connect


def _guard(
    max_connections: int, per_client: int, registry: CollectorRegistry, head_timeout_s: float = 30.0
) -> type[_GuardedH11]:
    cls = guarded_h11(
        max_connections=max_connections,
        max_connections_per_client=per_client,
        request_head_timeout_s=head_timeout_s,
        trusted_proxies=[],
        registry=registry,
    )
    assert issubclass(cls, _GuardedH11)
    return cls


def test_a_websocket_upgrade_gives_the_client_slot_back() -> None:
    """F3: the upgraded connection never reaches the h11 protocol's connection_lost; before the fix its
    client's count stayed 1 for ever (64 upgrades locked the address out)."""

    async def run() -> None:
        cls = _guard(8, 4, CollectorRegistry())
        server, _, connect = await _serve(cls, ws=_FakeWebSocket)
        try:
            _, writer = await connect()
            assert await _poll(lambda: cls.by_client["127.0.0.1"] == 1)
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            assert await _poll(lambda: not cls.by_client), dict(cls.by_client)
            writer.close()
        finally:
            server.close()

    asyncio.run(run())


class _Stranger(_GuardedH11):
    """As if every peer were a stranger (the test's peers are all loopback, which the total cap exempts)."""

    def _classify(self, address: str | None) -> tuple[bool, bool]:
        return False, False


def test_at_the_total_cap_the_oldest_connection_waiting_for_a_head_is_closed() -> None:
    """F2: two idle connections held the whole cap and every newcomer was refused."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_Stranger, _guard(2, 8, registry)), {})
        server, _, connect = await _serve(cls)
        try:
            first_reader, _ = await connect()
            assert await _poll(lambda: len(cls.counted) == 1)
            await connect()
            assert await _poll(lambda: len(cls.counted) == 2)
            reader, writer = await connect()  # over the cap: the first is closed for it
            assert await asyncio.wait_for(first_reader.read(), 10) == b""
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
            refused = registry.get_sample_value(
                "paramedic_http_connections_refused_total", {"reason": "max_connections"}
            )
            assert refused == 1
        finally:
            server.close()

    asyncio.run(run())


def test_ipv6_clients_are_counted_by_their_64_prefix() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::7") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"  # an IPv4 peer on a dual-stack socket
    assert client_key("192.0.2.7") == "192.0.2.7"


def test_the_leader_proxy_pool_stays_below_the_per_client_cap() -> None:
    """F5: a follower's leader proxy is one client address to the leader; httpx's default pool (100) could
    exceed the leader's per-client cap (64) and have forwarded requests refused."""
    assert LimitsConfig().max_connections_per_client > LEADER_PROXY_CONNECTIONS


class _SmallSendBuffer(_Stranger):
    """A stranger whose kernel send buffer is small, so a large answer stays in asyncio's write buffer (on
    loopback the kernel would otherwise take megabytes of it)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        super().connection_made(transport)


def _refused(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value("paramedic_http_connections_refused_total", {"reason": reason}) or 0.0


async def _read_all(reader: asyncio.StreamReader, chunk: int = 256 * 1024, pause_s: float = 0.0) -> bytes:
    data = b""
    while block := await asyncio.wait_for(reader.read(chunk), 10):
        data += block
        if pause_s:
            await asyncio.sleep(pause_s)
    return data


def _flushing(cls: type[_GuardedH11]) -> bool:
    return any(c.transport.get_write_buffer_size() > 0 for c in cls.counted)


def test_eviction_skips_a_finished_answer_still_flushing() -> None:
    """M2: at the cap, a connection whose answer was complete but still in its write buffer was the oldest
    "waiting" one and was aborted: its client got 2.8 of 8 MiB."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_SmallSendBuffer, _guard(3, 8, registry)), {})
        server, _, connect = await _serve(cls)
        try:
            reader, writer = await connect()
            writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            assert await _poll(lambda: _flushing(cls))
            held = [await connect(), await connect()]  # referenced: a collected writer closes its socket
            assert await _poll(lambda: len(cls.counted) == 3)
            idle = held[0][0]
            held.append(
                await connect()
            )  # over the cap: an idle one goes, not the one still sending its answer
            assert await asyncio.wait_for(idle.read(), 10) == b""
            head_and_body = await _read_all(reader)
            assert head_and_body.startswith(b"HTTP/1.1 200") and head_and_body.endswith(b"x" * BIG)
            assert _refused(registry, "max_connections") == 1
        finally:
            server.close()

    asyncio.run(run())


async def _slow_reader(server: asyncio.Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client with a tiny receive buffer: the server's answer advances only as fast as it reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, server.sockets[0].getsockname())
    return await asyncio.open_connection(sock=sock, limit=16 * 1024)


def test_the_head_deadline_waits_while_a_finished_answer_is_read() -> None:
    """M2: the head deadline ran from the end of the response, not of its sending: a client reading a large
    answer more slowly than the deadline had the rest of it discarded."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_SmallSendBuffer, _guard(8, 8, registry, 0.3)), {})
        server, _, _ = await _serve(cls)
        try:
            reader, writer = await _slow_reader(server)
            writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            # about 16 KiB per 20 ms: over a second, several deadlines, always some progress in each
            data = await _read_all(reader, chunk=16 * 1024, pause_s=0.02)
            assert data.endswith(b"x" * BIG), len(data)
            assert _refused(registry, "request_head_timeout") == 1  # then, drained and idle, it is closed
            assert _refused(registry, "response_drain_timeout") == 0
        finally:
            server.close()

    asyncio.run(run())


def test_a_connection_whose_answer_is_never_read_is_closed() -> None:
    """M3: a closing connection whose client never reads its answer held its slot (and descriptor) for
    ever; eviction cannot take it."""

    # what the kernel's buffers took counts as read, but gives DRAIN_STALL_WINDOWS of credit at most
    _never_read(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0.3)


def _never_read(request: bytes, window_s: float) -> list[str]:
    """Send ``request`` from a client that never reads: the drain deadline must cut it and free its slot.
    Returns the paths the app started."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_SmallSendBuffer, _guard(8, 8, registry, window_s)), {})
        server, _, _ = await _serve(cls)
        STARTED.clear()
        try:
            _, writer = await _slow_reader(server)
            writer.write(request)
            assert await _poll(lambda: _refused(registry, "response_drain_timeout") == 1)
            assert not cls.counted and not cls.by_client
            writer.close()
        finally:
            server.close()

    asyncio.run(run())
    return list(STARTED)


class _Scripted(_GuardedH11):
    """Peers classified in the order given in ``script`` ((trusted, loopback) per connection)."""

    script: deque[tuple[bool, bool]]

    def _classify(self, address: str | None) -> tuple[bool, bool]:
        return self.script.popleft()


def test_a_trusted_proxy_at_its_bound_evicts_a_waiting_stranger(monkeypatch: pytest.MonkeyPatch) -> None:
    """M5: with strangers holding the cap, a trusted proxy at max_connections + EXEMPT_RESERVE was refused
    while idle strangers kept their slots."""
    monkeypatch.setattr(http_conns, "EXEMPT_RESERVE", 1)

    async def run() -> None:
        registry = CollectorRegistry()
        stranger, proxy = (False, False), (True, False)
        script = deque([stranger, stranger, proxy, proxy])
        cls: type[_GuardedH11] = type("T", (_Scripted, _guard(2, 8, registry)), {"script": script})
        server, _, connect = await _serve(cls)
        try:
            held = [await connect()]  # kept referenced: a collected StreamWriter closes its connection
            assert await _poll(lambda: len(cls.counted) == 1)
            held.append(await connect())
            assert await _poll(lambda: len(cls.counted) == 2)
            held.append(await connect())  # the proxy, within max_connections + EXEMPT_RESERVE
            assert await _poll(lambda: len(script) == 1)
            first = held[0][0]
            reader, writer = await connect()  # the proxy at its bound: the oldest stranger goes
            assert await asyncio.wait_for(first.read(), 10) == b""
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
        finally:
            server.close()

    asyncio.run(run())


def test_a_body_awaiting_100_continue_is_not_cut_while_the_app_reads_late() -> None:
    """L1: a client that sent "Expect: 100-continue" sends nothing until the app reads; the body-rate
    window counted that wait against it and cut the request."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_Stranger, _guard(8, 8, registry, 0.3)), {})
        server, _, connect = await _serve(cls)
        try:
            reader, writer = await connect()
            writer.write(
                b"POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            )
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 100")
            writer.write(b"hello")
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert answer.split(b"\r\n")[1].startswith(b"HTTP/1.1 200"), answer
            assert _refused(registry, "request_body_timeout") == 0
        finally:
            server.close()

    asyncio.run(run())


class _Failing(_GuardedH11):
    def _classify(self, address: str | None) -> tuple[bool, bool]:
        raise RuntimeError("guard bug")


def test_a_guard_that_raises_closes_the_connection(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L2: an exception in a guard callback left the connection open and unguarded (asyncio only logged
    it); now the connection is aborted and the failure logged."""
    monkeypatch.setattr(http_conns, "_FAILURES", http_conns._FailureLog())

    async def run() -> None:
        cls: type[_GuardedH11] = type("T", (_Failing, _guard(8, 8, CollectorRegistry())), {})
        server, _, connect = await _serve(cls)
        try:
            reader, _ = await connect()
            assert await asyncio.wait_for(reader.read(), 10) == b""
        finally:
            server.close()

    with caplog.at_level(logging.ERROR, logger="paramedic"):
        asyncio.run(run())
    assert any("guard _admit failed" in r.getMessage() for r in caplog.records)


class _BodyWindows(_Stranger):
    seen: list[int]

    def _body_window_ended(self) -> None:
        self.seen.append(self._body_bytes)
        super()._body_window_ended()


def test_body_bytes_in_the_heads_packet_count() -> None:
    """L4: the body-rate count was reset after the head was parsed, so body bytes sent with it in one
    packet did not count towards the first window."""

    async def run() -> None:
        seen: list[int] = []
        cls: type[_GuardedH11] = type(
            "T", (_BodyWindows, _guard(8, 8, CollectorRegistry(), 0.3)), {"seen": seen}
        )
        server, _, connect = await _serve(cls)
        try:
            _, writer = await connect()
            writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"y" * 600)
            assert await _poll(lambda: bool(seen))
            assert seen[0] == 600
            writer.close()
        finally:
            server.close()

    asyncio.run(run())


class _FakeTransport:
    def __init__(self, buffered: int) -> None:
        self.buffered = buffered
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False

    def abort(self) -> None:
        self.aborted = True


def _flushing_connection(
    cls: type[_GuardedH11], armed_at: int, now: int, drained: int = 0, elapsed_s: float = 30.0
) -> tuple[_GuardedH11, _FakeTransport]:
    """A connection (no socket) whose finished answer had ``armed_at`` bytes buffered when its deadline was
    armed and has ``now`` at the deadline; ``drained`` bytes were read in the ``elapsed_s`` since the answer
    finished, before this window."""
    conn = cls.__new__(cls)
    transport = _FakeTransport(now)
    loop = asyncio.new_event_loop()
    conn.__dict__.update(transport=transport, cycle=None, loop=loop, _head_timer=None, _body_timer=None)
    conn.__dict__.update(_key=None, _buffered=armed_at, _drained=drained)
    conn.__dict__.update(_drain_started=loop.time() - elapsed_s)
    return conn, transport


def test_an_answer_read_a_trickle_at_a_time_is_cut() -> None:
    """M3: any shrinking of the write buffer re-armed the drain deadline, so reading a few bytes per window
    held a slot (un-evictable, as its answer is unsent) for ever; it must drain at MIN_BODY_RATE."""
    registry = CollectorRegistry()
    cls = _guard(8, 8, registry, 30.0)
    window = http_conns.MIN_BODY_RATE * 30
    trickle, trickle_transport = _flushing_connection(cls, armed_at=100_000, now=100_000 - 10)
    steady, steady_transport = _flushing_connection(cls, armed_at=100_000 + window, now=100_000)
    try:
        trickle._head_timed_out()
        steady._head_timed_out()
        assert trickle_transport.aborted
        assert not steady_transport.aborted
        assert steady._head_timer is not None  # re-armed for the next window
        assert _refused(registry, "response_drain_timeout") == 1
    finally:
        for conn in (trickle, steady):
            if conn._head_timer is not None:
                conn._head_timer.cancel()
            conn.loop.close()


class _LoopbackHealthCheck(_GuardedH11):
    """127.0.0.2 is a stranger, 127.0.0.1 the local health checker (both loopback in the test)."""

    def _classify(self, address: str | None) -> tuple[bool, bool]:
        return False, address == "127.0.0.1"


async def _hold(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/hold":  # a live request the guard must never cut nor evict
        await asyncio.sleep(5.0)
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def test_refused_connections_not_yet_lost_do_not_lock_out_a_health_check() -> None:
    """Third review M1: the exempt bound was checked against uvicorn's ``connections``, which still held the
    connections refused in the same accept pass (closed a pass or two later): 300 per-client refusals and
    one live stranger made a loopback health check look over max_connections + EXEMPT_RESERVE, and it was
    refused."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_LoopbackHealthCheck, _guard(4, 1, registry)), {})
        cfg = Config(_hold, http=cls, lifespan="off")
        cfg.load()
        state = ServerState()
        server = await asyncio.get_running_loop().create_server(
            lambda: cls(config=cfg, server_state=state, app_state={}), "127.0.0.1", 0, backlog=1024
        )
        port = server.sockets[0].getsockname()[1]
        held: list[socket.socket] = []
        try:
            live_reader, live_writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=("127.0.0.2", 0)
            )
            live_writer.write(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
            assert await _poll(lambda: len(cls.counted) == 1 and not cls.waiting)
            # no await from here to the health check: all 301 wait in the backlog for one accept pass
            for _ in range(300):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.2", 0))
                s.connect(("127.0.0.1", port))
            check = socket.socket()
            held.append(check)
            check.connect(("127.0.0.1", port))
            check.setblocking(False)
            check.send(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            reader, writer = await asyncio.open_connection(sock=check)
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
            assert _refused(registry, "max_connections_per_client") == 300
            assert _refused(registry, "max_connections") == 0
            writer.close()
            live_writer.close()
            del live_reader
        finally:
            for s in held:
                s.close()
            server.close()

    asyncio.run(run())


def test_guard_failures_are_logged_in_full_once_then_counted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Third review L5: every guard failure logged a traceback; a bug hit by each connection of a flood
    wrote one per connection. Now: the first in full, then one line per interval with the count."""
    now = [0.0]
    monkeypatch.setattr(http_conns, "_FAILURES", http_conns._FailureLog(10.0, lambda: now[0]))
    cls: type[_GuardedH11] = type("T", (_Failing, _guard(8, 8, CollectorRegistry())), {})
    conns = [_flushing_connection(cls, 0, 0) for _ in range(501)]
    try:
        with caplog.at_level(logging.ERROR, logger="paramedic"):
            for conn, _ in conns[:500]:
                conn.client = ("192.0.2.1", 1)
                conn._admit()
            now[0] = 11.0
            conns[500][0].client = ("192.0.2.1", 1)
            conns[500][0]._admit()
        assert all(transport.aborted for _, transport in conns)
        records = [r for r in caplog.records if "guard _admit failed" in r.getMessage()]
        assert len(records) == 2
        assert records[0].exc_info is not None
        assert records[1].exc_info is None and "499 more failures not logged" in records[1].getMessage()
    finally:
        for conn, _ in conns:
            conn.loop.close()


def test_a_peer_with_no_address_counts_as_a_stranger() -> None:
    """Third review M1: a connection reset before it was made has no peer address and was exempt, so a
    flood's resets filled the loopback reserve and health checks were refused; now it is a stranger."""
    registry = CollectorRegistry()
    cls = _guard(1, 1, registry)
    live, _ = _flushing_connection(cls, 0, 0)  # a stranger mid-request: holds the cap, not evictable
    cls.counted.add(live)
    addressless, transport = _flushing_connection(cls, 0, 0)
    addressless.client = None
    try:
        addressless._admit()
        assert transport.aborted
        assert not cls.exempt
        assert _refused(registry, "max_connections") == 1
    finally:
        for conn in (live, addressless):
            conn.loop.close()


def test_the_uvicorn_internals_the_guard_relies_on_exist() -> None:
    """Third review L6: the guard reads uvicorn's private state; a uvicorn that renamed any of it would
    leave connections unguarded (or fail every one closed). pyproject pins uvicorn below the next minor;
    this test says what to check before raising the pin."""
    names = ("handle_events", "on_response_complete", "handle_websocket_upgrade", "data_received")
    for name in (*names, "pause_writing", "resume_writing"):
        assert callable(vars(H11Protocol).get(name)), name
    seen: list[_GuardedH11] = []

    class _Recording(_GuardedH11):
        def _request_started(self) -> None:
            seen.append(self)
            super()._request_started()

    async def run() -> None:
        cls: type[_GuardedH11] = type("T", (_Recording, _guard(8, 8, CollectorRegistry())), {})
        server, _, connect = await _serve(cls)
        try:
            reader, writer = await connect()
            writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
            assert await _poll(lambda: bool(seen))
            conn = seen[0]
            assert isinstance(conn.connections, set) and conn in conn.connections
            assert isinstance(conn.flow, FlowControl) and isinstance(conn.flow.read_paused, bool)
            assert isinstance(conn.flow.write_paused, bool)
            assert conn.conn.their_state is h11.SEND_BODY
            cycle = conn.cycle
            assert isinstance(cycle, RequestResponseCycle)
            for flag in ("response_complete", "response_started", "waiting_for_100_continue"):
                assert isinstance(getattr(cycle, flag), bool), flag
            assert isinstance(cycle.body, bytearray)
            writer.write(b"abcd")
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
            assert await _poll(lambda: cycle.response_complete)
            writer.close()
        finally:
            server.close()

    asyncio.run(run())


def test_a_large_answer_read_fast_then_stalled_is_not_cut() -> None:
    """Third review L4: the drain deadline asked MIN_BODY_RATE of every window, so a client that read
    2 MiB of a 4 MiB answer in the first window and then stalled for one window was cut; the rate is now
    averaged over the time since the answer finished."""
    registry = CollectorRegistry()
    cls = _guard(8, 8, registry, 30.0)
    stalled, transport = _flushing_connection(cls, 2 * BIG, 2 * BIG, drained=2 * BIG, elapsed_s=60.0)
    try:
        stalled._head_timed_out()
        assert not transport.aborted
        assert stalled._head_timer is not None
    finally:
        if stalled._head_timer is not None:
            stalled._head_timer.cancel()
        stalled.loop.close()


def test_a_reader_stalled_past_its_credit_is_cut() -> None:
    """The drain credit is capped: a client whose kernel took megabytes at once and never reads again is
    cut DRAIN_STALL_WINDOWS windows after it, not hours later."""
    registry = CollectorRegistry()
    cls = _guard(8, 8, registry, 30.0)
    stalls = http_conns.DRAIN_STALL_WINDOWS + 2  # the reading window, the stalls allowed, the one cut
    conn, transport = _flushing_connection(cls, 4 * BIG, 4 * BIG - 1, drained=4 * BIG, elapsed_s=0.0)
    try:
        for window in range(1, stalls + 1):  # one window of reading, then stalls past the credit
            conn._drain_started = conn.loop.time() - 30.0 * window
            conn._head_timed_out()
            assert transport.aborted == (window == stalls), window
            if conn._head_timer is not None:
                conn._head_timer.cancel()
    finally:
        conn.loop.close()


def test_pipelined_requests_wait_while_an_answer_is_unsent() -> None:
    """Fourth review H1: a client pipelined requests and never read. uvicorn started each next request as
    the previous answer completed; once the write buffer passed its high-water mark the next answer's send
    waited for a drain that never came, so no answer was complete, no deadline or eviction applied and the
    slot was held for ever. Now the next request waits while writing is paused and the finished answer's
    drain deadline cuts the connection."""

    started = _never_read(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n" * 3, 0.3)
    assert started == ["/big"], started  # the next ones were never started


def test_pipelined_answers_are_all_served_to_a_reader() -> None:
    """The wait for a paused write buffer must not lose pipelined requests: a client that reads gets every
    answer, in order."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_SmallSendBuffer, _guard(8, 8, registry, 0.3)), {})
        server, _, _ = await _serve(cls)
        try:
            reader, writer = await _slow_reader(server)
            last = b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + last)
            data = await _read_all(reader)
            assert data.count(b"HTTP/1.1 200") == 3 and len(data) > 3 * BIG, len(data)
            assert _refused(registry, "response_drain_timeout") == 0
        finally:
            server.close()

    asyncio.run(run())


class _SmallBuffers(_SmallSendBuffer):
    """Small kernel buffers both ways (64 KiB to receive: 4 KiB windows crawl on delayed ACKs), so neither a
    large answer nor a large body fits in them."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        super().connection_made(transport)


def test_an_early_answer_to_a_body_sent_before_reading_is_served() -> None:
    """Fifth review L1: the app answered a POST without reading its body (413), with an answer larger than
    the buffers, to a client that sends its whole body before it reads. The pipelining wait held the
    finished answer back, which paused reading: the client blocked sending, the server blocked writing,
    and the drain deadline reset the connection. A pipelined request can only follow a whole request, so
    until then uvicorn goes on reading and discarding the body and the client gets its whole answer."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_SmallBuffers, _guard(8, 8, registry, 1.0)), {})
        server, port, _ = await _serve(cls)
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock)
            size = 8 * BIG
            writer.write(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
            chunk = b"z" * 65536
            for _ in range(size // len(chunk)):  # the whole body, then the answer
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), 10)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 413"), head
            assert len(await asyncio.wait_for(reader.readexactly(BIG), 10)) == BIG
            assert _refused(registry, "response_drain_timeout") == 0
            writer.close()
        finally:
            server.close()

    asyncio.run(run())


async def _read_at(reader: asyncio.StreamReader, rate: int, seconds: float) -> int:
    """Read ``rate`` bytes/s (in 20 ms steps) for ``seconds``; the bytes read (the server never closed)."""
    got = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        block = await asyncio.wait_for(reader.read(rate // 50), 10)
        assert block, f"closed by the server after {got} bytes"
        got += len(block)
        await asyncio.sleep(0.02)
    return got


def test_an_answer_in_progress_never_read_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fourth review H1 (b): an answer still being written (a download, a tail) whose client stopped
    reading held its slot for ever: it is not complete, so no drain deadline applied. Now the time writing
    is paused must be matched by reading at MIN_BODY_RATE, after DRAIN_STALL_WINDOWS windows of grace."""
    monkeypatch.setattr(http_conns, "MIN_BODY_RATE", 256 * 1024)

    _never_read(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", 0.2)


def test_a_download_read_at_the_rate_and_a_live_tail_are_not_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side of the rule: a download read at twice MIN_BODY_RATE (writing paused most of the
    time, as the app writes faster) runs for 15 windows uncut, and so does a live tail read as it comes."""
    monkeypatch.setattr(http_conns, "MIN_BODY_RATE", 256 * 1024)

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_SmallSendBuffer, _guard(8, 8, registry, 0.2)), {})
        server, _, _ = await _serve(cls)
        try:
            download, d_writer = await _slow_reader(server)
            d_writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            tail, t_writer = await _slow_reader(server)
            t_writer.write(b"GET /tail?300 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got, events = await asyncio.gather(_read_at(download, 512 * 1024, 3.0), _read_all(tail))
            assert got > 512 * 1024, got  # it did run (writing paused and resumed many times)
            assert events.count(b"e" * 100) == 300
            assert _refused(registry, "response_drain_timeout") == 0
            d_writer.close()
        finally:
            server.close()

    asyncio.run(run())


def test_each_guard_s_first_failure_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fourth review L: the traceback rule was global, so a second guard's bug failing within the first
    one's interval was only counted, its traceback never logged."""
    now = [0.0]
    failures = http_conns._FailureLog(10.0, lambda: now[0])
    with caplog.at_level(logging.ERROR, logger="paramedic"):
        for guard in ("_admit", "_admit", "_head_timed_out", "_admit"):
            try:
                raise RuntimeError(guard)
            except RuntimeError:
                failures.report(guard)
    traced = [r.getMessage() for r in caplog.records if r.exc_info is not None]
    assert traced == [
        "HTTP connection guard _admit failed: closing the connection",
        "HTTP connection guard _head_timed_out failed: closing the connection",
    ]
    assert failures.held == 2
