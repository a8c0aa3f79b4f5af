"""Receiver limits: per-listener connection cap, idle and incomplete-frame timeouts, write backpressure."""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.config import LogsConfig
from log_pipeline.receivers import LogReceivers
from log_pipeline.receivers._conn import Context, RelpConnection
from log_pipeline.receivers._limits import Slots, StreamLimits
from log_pipeline.receivers._metrics import ReceiverMetrics
from tests.log_pipeline.receivers_harness import Harness, port0_config, spool_at
from tests.support.servers import closed_by_peer, wait_until

OPEN = b"1 open 30 relp_version=0\ncommands=syslog\n"
LIMITS = {"port": 0, "max_connections": 2, "idle_timeout_s": 0.5}


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(port0_config(relp=LIMITS, syslog_tcp=LIMITS), spool_at(tmp_path / "spool"))
    yield h
    h.close()


def _has_messages(harness: Harness, n: int) -> bool:
    return len(harness.messages()) == n


def test_defaults() -> None:
    cfg = LogsConfig()
    assert cfg.relp is not None and cfg.syslog_tcp is not None
    assert (cfg.relp.max_connections, cfg.relp.idle_timeout_s) == (1024, 300.0)
    assert (cfg.syslog_tcp.max_connections, cfg.syslog_tcp.idle_timeout_s) == (1024, 300.0)
    assert (cfg.tail.max_subscribers, cfg.tail.max_subscribers_per_principal) == (64, 8)
    assert (cfg.tail.queue_records, cfg.tail.queue_bytes, cfg.tail.max_query_bytes) == (1000, 1 << 20, 4096)


@pytest.mark.parametrize("listener", ["tcp", "relp"])
def test_connections_over_the_cap_are_closed_at_once(harness: Harness, listener: str) -> None:
    port = harness.receivers.ports[listener]  # type: ignore[index]
    kept = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    try:
        wait_until(lambda: harness.metric("paramedic_logs_connections", transport=listener) == 2, 5, "two")
        with socket.create_connection(("127.0.0.1", port)) as extra:
            assert closed_by_peer(extra, 5)
        assert harness.metric("paramedic_logs_refused_connections_total", transport=listener) == 1
        kept.pop().close()  # a slot frees up: the next connection is served
        wait_until(lambda: harness.metric("paramedic_logs_connections", transport=listener) == 1, 5, "one")
        with socket.create_connection(("127.0.0.1", port)) as again:
            if listener == "tcp":
                again.sendall(b"<13>after the cap\n")
            else:
                again.sendall(OPEN + b"2 syslog 9 after cap\n")
                again.settimeout(5)
                assert again.recv(4096).startswith(b"1 rsp ")
        wait_until(lambda: harness.messages()[-1:] in ([b"<13>after the cap"], [b"after cap"]), 5, "message")
    finally:
        for s in kept:
            s.close()


def test_silent_connection_is_closed_after_the_idle_timeout(harness: Harness) -> None:
    port = harness.receivers.ports["tcp"]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as s:
        assert closed_by_peer(s, 10)
    assert 0.4 <= time.monotonic() - started < 5
    assert harness.metric("paramedic_logs_timeouts_total", transport="tcp", reason="idle") == 1
    wait_until(lambda: harness.metric("paramedic_logs_connections", transport="tcp") == 0, 5, "slot freed")


@pytest.mark.parametrize("listener", ["tcp", "relp"])
def test_trickled_half_frame_is_closed_even_though_bytes_keep_coming(harness: Harness, listener: str) -> None:
    port = harness.receivers.ports[listener]  # type: ignore[index]
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(0.1)
        s.sendall(b"<13>a line that never ends" if listener == "tcp" else OPEN + b"2 syslog 1000 ")
        deadline = time.monotonic() + 10
        closed = False
        while not closed:
            assert time.monotonic() < deadline, "the half frame was never closed"
            try:
                s.sendall(b"x")  # more often than idle_timeout_s: never idle, never complete
                closed = s.recv(4096) == b"" if listener == "tcp" else b"serverclose" in s.recv(4096)
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
    assert harness.metric("paramedic_logs_timeouts_total", transport=listener, reason="incomplete") == 1
    assert harness.metric("paramedic_logs_timeouts_total", transport=listener, reason="idle") == 0


def test_a_connection_that_keeps_sending_whole_messages_is_never_timed_out(harness: Harness) -> None:
    port = harness.receivers.ports["tcp"]
    with socket.create_connection(("127.0.0.1", port)) as s:
        deadline = time.monotonic() + 1.5  # three idle timeouts
        n = 0
        while time.monotonic() < deadline:
            s.sendall(b"<13>tick %d\n" % n)
            n += 1
            wait_until(functools.partial(_has_messages, harness, n), 5, f"message {n}")
    assert harness.metric("paramedic_logs_timeouts_total", transport="tcp", reason="idle") == 0
    assert harness.metric("paramedic_logs_timeouts_total", transport="tcp", reason="incomplete") == 0


class _FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.reading = True
        self.closing = False
        self.written: list[bytes] = []
        self.unsent = 0
        self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.high = high

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return self.unsent


def test_a_peer_that_does_not_read_its_acks_stops_our_reads() -> None:
    """Above the write high-water mark (asyncio calls pause_writing) we stop reading until it drains, and
    a commit finishing meanwhile does not resume reads behind the write pause's back."""

    async def run() -> None:
        ctx = Context(spool=None, metrics=ReceiverMetrics.create(CollectorRegistry()))  # type: ignore[arg-type]
        conn = RelpConnection(ctx, Slots(StreamLimits(4, 60.0, write_high_water_bytes=1024)), 1000)
        t = _FakeTransport()
        conn.connection_made(t)
        assert t.high == 1024 and t.reading
        conn.pause_writing()
        assert not t.reading
        conn._pause("commit")
        conn._resume("commit")
        assert not t.reading  # still paused for writing
        conn.resume_writing()
        assert t.reading
        conn.connection_lost(None)
        ctx.executor.shutdown()

    asyncio.run(run())


def test_a_peer_that_never_reads_is_timed_out_then_aborted() -> None:
    """Paused for writing, the peer sends nothing: closed after idle_timeout_s (with serverclose); when that
    goodbye never drains either, the connection is aborted one timeout later (no fd or slot kept)."""

    async def run() -> None:
        ctx = Context(spool=None, metrics=ReceiverMetrics.create(CollectorRegistry()))  # type: ignore[arg-type]
        slots = Slots(StreamLimits(4, 0.05))
        conn = RelpConnection(ctx, slots, 1000)
        t = _FakeTransport()
        conn.connection_made(t)
        conn.pause_writing()
        t.unsent = 1 << 20
        deadline = asyncio.get_running_loop().time() + 5
        while not t.aborted:
            assert asyncio.get_running_loop().time() < deadline, "never aborted"
            await asyncio.sleep(0.01)
        assert t.written == [b"0 serverclose 0\n"]
        conn.connection_lost(None)
        assert slots.used == 0
        ctx.executor.shutdown()

    asyncio.run(run())


def test_the_stream_listeners_listen_with_the_backlog_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fourth review M3: the backlog was a fixed 512 on every stream listener, so an accept flood at a
    tight open-files limit held more descriptors than paramedic.fds budgeted; serve now passes a smaller
    one there (paramedic.fds.log_backlog)."""
    backlogs: list[int] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        create_server = loop.create_server

        async def recording(*args: Any, **kwargs: Any) -> asyncio.Server:
            backlogs.append(kwargs["backlog"])
            return await create_server(*args, **kwargs)

        monkeypatch.setattr(loop, "create_server", recording)
        receivers = LogReceivers(port0_config(), spool_at(tmp_path / "spool"), backlog=64)
        await receivers.start()
        await receivers.stop()

    asyncio.run(run())
    assert backlogs == [64, 64]  # relp and syslog_tcp (udp has none)
