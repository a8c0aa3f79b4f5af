"""asyncio protocols of the listeners: RELP, syslog over TCP/TLS, syslog over UDP.

Backpressure: a stream connection pauses reading while the messages of one read are being appended to the
spool (in the spool thread pool) and resumes only after the append returned and the acks were written. When
the spool blocks (full), reads stay paused: TCP senders are slowed by the kernel's flow control and RELP
senders by their full window. Nothing is dropped on streams; UDP datagrams longer than ``max_message_bytes``,
or beyond the queue's bounds (``queue_messages``, and ``queue_bytes`` counting the batch being appended
too), are dropped and counted (``paramedic_logs_dropped_total{transport="udp"}``).

Limits (:mod:`log_pipeline.receivers._limits`, per listener): a connection beyond ``max_connections`` is
aborted as soon as it is accepted (``paramedic_logs_refused_connections_total``); a connection that sends
nothing for ``idle_timeout_s``, or keeps an incomplete message or frame that long, is closed
(``paramedic_logs_timeouts_total{reason="idle"|"incomplete"}``) — time spent waiting for our own spool does
not count. Reading also pauses while the transport's write buffer is above ``write_high_water_bytes`` (a
peer that does not read its RELP acks), so our output per connection stays bounded; such a peer then times
out as idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, cast

from log_pipeline.base import Spool
from log_pipeline.model import RawMessage, raw_message
from log_pipeline.receivers._framing import SyslogFramer
from log_pipeline.receivers._limits import Slots
from log_pipeline.receivers._metrics import ReceiverMetrics
from log_pipeline.receivers._relp import SERVERCLOSE, RelpSession
from log_pipeline.spool import SpoolError
from metrics_store.sched_slice import drop_slice_request

__all__ = ["Context", "RelpConnection", "SyslogStreamConnection", "SyslogUdpReceiver"]

log = logging.getLogger("log_pipeline.receivers")


def raw_messages(messages: list[bytes], received_ns: int, transport: str, peer: str) -> list[RawMessage]:
    """The :class:`RawMessage` of each of one read's messages."""
    return [raw_message(m, received_ns, transport, peer) for m in messages]


def _peer(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


class Context:
    """What every connection shares: the spool (through a thread pool), metrics and the live connections."""

    def __init__(self, spool: Spool, metrics: ReceiverMetrics, append_threads: int = 4) -> None:
        self.spool = spool
        self.metrics = metrics
        # ingest, started from the event loop: a waking read may preempt it (metrics_store.sched_slice)
        self.executor = ThreadPoolExecutor(
            append_threads, thread_name_prefix="spool-append", initializer=drop_slice_request
        )
        self.connections: set[StreamConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def append(self, messages: list[RawMessage]) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.spool.append, messages)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class StreamConnection(asyncio.Protocol):
    transport_name = "tcp"

    def __init__(self, ctx: Context, slots: Slots) -> None:
        self._ctx = ctx
        self._limits = slots.limits
        self._slots = slots
        self._admitted = False
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._paused: set[str] = set()  # why reading is paused: "commit" (our spool), "write" (peer)
        self._last_read = 0.0  # loop time of the last read (or of resuming reads)
        self._partial_since: float | None = None  # loop time since when an incomplete message is held
        self._timer: asyncio.TimerHandle | None = None
        self.peer = "?"

    # subclasses: turn bytes into (messages, replies, close_after, error(offset, reason, detail) | None)
    def _parse(self, data: bytes) -> tuple[list[bytes], list[bytes], bool, tuple[int, str, str] | None]:
        raise NotImplementedError

    def _leftover(self) -> list[bytes]:
        return []

    def _farewell(self) -> bytes:
        return b""

    def _buffered(self) -> int:
        """Bytes of an incomplete message or frame held by the session."""
        raise NotImplementedError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.peer = _peer(transport.get_extra_info("peername"))
        if not self._slots.take():
            self._ctx.metrics.refused.labels(self.transport_name).inc()
            if self._slots.refused % 1000 == 1:
                log.warning(
                    "%s: max_connections (%d) reached, refusing connections (%d refused so far; latest %s)",
                    self.transport_name,
                    self._slots.limit,
                    self._slots.refused,
                    self.peer,
                )
            self._transport.abort()
            return
        self._admitted = True
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._transport.set_write_buffer_limits(high=self._limits.write_high_water_bytes)
        self._ctx.connections.add(self)
        self._ctx.metrics.connections.labels(self.transport_name).inc()
        self._loop = asyncio.get_running_loop()
        self._last_read = self._loop.time()
        self._timer = self._loop.call_later(self._limits.idle_timeout_s, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self._slots.give_back()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self in self._ctx.connections:
            self._ctx.connections.discard(self)
            self._ctx.metrics.connections.labels(self.transport_name).dec()
        rest = self._leftover()
        if rest:
            self._ctx.spawn(self._commit(rest, [], close=False, error=None))

    def data_received(self, data: bytes) -> None:
        if self._transport is None or not self._admitted:
            return
        self._ctx.metrics.bytes.labels(self.transport_name).inc(len(data))
        messages, replies, close, error = self._parse(data)
        if self._loop is not None:
            now = self._last_read = self._loop.time()
            if self._buffered() == 0:
                self._partial_since = None
            elif messages or self._partial_since is None:
                self._partial_since = now
        if messages:
            self._pause("commit")
            self._ctx.spawn(self._commit(messages, replies, close, error))
        else:
            self._finish(replies, 0, close, error)

    def pause_writing(self) -> None:
        """The peer does not read (our write buffer is above the high-water mark): stop reading too."""
        self._pause("write")

    def resume_writing(self) -> None:
        self._resume("write")

    def _pause(self, why: str) -> None:
        if not self._paused and self._transport is not None:
            self._transport.pause_reading()
        self._paused.add(why)

    def _resume(self, why: str) -> None:
        self._paused.discard(why)
        transport = self._transport
        if self._paused or transport is None or transport.is_closing():
            return
        transport.resume_reading()
        if self._loop is not None:  # time spent paused is not the peer's idle time
            self._last_read = self._loop.time()
            if self._partial_since is not None:
                self._partial_since = self._last_read

    def _check_idle(self) -> None:
        self._timer = None
        transport, loop = self._transport, self._loop
        if transport is None or loop is None:
            return
        if transport.is_closing():
            # closed by us but still flushing to a peer that does not read: drop the unsent bytes
            if transport.get_write_buffer_size() > 0:
                transport.abort()
            return
        now, timeout = loop.time(), self._limits.idle_timeout_s
        if "commit" in self._paused:  # waiting for our own spool: not the peer's fault
            self._timer = loop.call_later(timeout, self._check_idle)
            return
        idle_at = self._last_read + timeout
        stalled_at = idle_at if self._partial_since is None else self._partial_since + timeout
        if now >= min(idle_at, stalled_at):
            reason = "idle" if now >= idle_at else "incomplete"
            self._ctx.metrics.timeouts.labels(self.transport_name, reason).inc()
            log.info(
                "%s %s: closing, %s for %.0f s (idle_timeout_s)",
                self.transport_name,
                self.peer,
                "nothing received" if reason == "idle" else "an incomplete message held",
                timeout,
            )
            self.shutdown()  # re-arms the timer: it aborts if the goodbye never drains
            return
        self._timer = loop.call_later(min(idle_at, stalled_at) - now, self._check_idle)

    async def _commit(
        self, messages: list[bytes], replies: list[bytes], close: bool, error: tuple[int, str, str] | None
    ) -> None:
        raws = raw_messages(messages, time.time_ns(), self.transport_name, self.peer)
        try:
            await self._ctx.append(raws)
        except SpoolError as e:
            log.error(
                "%s %s: spool append failed, closing without ack: %s", self.transport_name, self.peer, e
            )
            self._ctx.metrics.errors.labels(self.transport_name, "spool").inc()
            if self._transport is not None:
                self._transport.close()
            return
        self._ctx.metrics.received.labels(self.transport_name).inc(len(raws))
        self._finish(replies, len(raws), close, error)
        self._resume("commit")

    def _finish(
        self, replies: list[bytes], acked: int, close: bool, error: tuple[int, str, str] | None
    ) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if replies:
            transport.write(b"".join(replies))
            if acked:
                self._ctx.metrics.acked.labels(self.transport_name).inc(acked)
        if error is not None:
            offset, reason, detail = error
            log.error(
                "%s %s: protocol error at byte %d (%s): %s; closing the connection",
                self.transport_name,
                self.peer,
                offset,
                reason,
                detail,
            )
            self._ctx.metrics.errors.labels(self.transport_name, reason).inc()
            self.shutdown()
        elif close:
            transport.close()

    def shutdown(self) -> None:
        """End the connection (protocol error, timeout or server stop), saying goodbye as the protocol does.
        A peer that does not read what is left is aborted by the idle timer (``_check_idle``)."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            bye = self._farewell()
            if bye:
                transport.write(bye)
            transport.close()
            if self._timer is None and self._loop is not None and self._admitted:
                self._timer = self._loop.call_later(self._limits.idle_timeout_s, self._check_idle)


class RelpConnection(StreamConnection):
    transport_name = "relp"

    def __init__(self, ctx: Context, slots: Slots, max_frame_bytes: int) -> None:
        super().__init__(ctx, slots)
        self._session = RelpSession(max_frame_bytes)

    def _buffered(self) -> int:
        return self._session.buffered

    def _parse(self, data: bytes) -> tuple[list[bytes], list[bytes], bool, tuple[int, str, str] | None]:
        step = self._session.feed(data)
        err = step.error
        return (
            step.messages,
            step.replies,
            step.close,
            None if err is None else (err.offset, err.reason, err.detail),
        )

    def _farewell(self) -> bytes:
        return SERVERCLOSE


class SyslogStreamConnection(StreamConnection):
    def __init__(
        self,
        ctx: Context,
        slots: Slots,
        transport_name: str,
        mode: Literal["auto", "octet", "lf"],
        max_message_bytes: int,
    ) -> None:
        super().__init__(ctx, slots)
        self.transport_name = transport_name
        self._framer = SyslogFramer(mode, max_message_bytes)

    def _buffered(self) -> int:
        return self._framer.buffered

    def _parse(self, data: bytes) -> tuple[list[bytes], list[bytes], bool, tuple[int, str, str] | None]:
        step = self._framer.feed(data)
        err = step.error
        return step.messages, [], False, None if err is None else (err.offset, err.reason, err.detail)

    def _leftover(self) -> list[bytes]:
        return self._framer.flush()


class SyslogUdpReceiver(asyncio.DatagramProtocol):
    """One datagram = one message; a queue bounded in messages and bytes feeds the spool; overflow and
    datagrams over ``max_message_bytes`` are dropped and counted."""

    def __init__(
        self,
        ctx: Context,
        queue_messages: int,
        batch_messages: int = 4096,
        *,
        queue_bytes: int = 64 * 1024 * 1024,
        max_message_bytes: int = 65535,
    ) -> None:
        self._ctx = ctx
        self._max = queue_messages
        self._max_bytes = queue_bytes
        self._max_message = max_message_bytes
        self._batch = batch_messages
        self._queue: deque[RawMessage] = deque()
        self._bytes = 0  # queued plus being appended
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drain())

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        m = self._ctx.metrics
        m.bytes.labels("udp").inc(len(data))
        if data.endswith(b"\n"):
            data = data[:-1]
        if (
            len(data) > self._max_message
            or len(self._queue) >= self._max
            or self._bytes + len(data) > self._max_bytes
        ):
            m.dropped.labels("udp").inc()
            return
        self._queue.append(RawMessage(data, time.time_ns(), "udp", _peer(addr)))
        self._bytes += len(data)
        self._ready.set()

    async def _drain(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
                try:
                    await self._ctx.append(batch)
                except SpoolError as e:
                    log.error("udp: spool append failed, %d messages dropped: %s", len(batch), e)
                    self._ctx.metrics.dropped.labels("udp").inc(len(batch))
                    continue
                finally:
                    self._bytes -= sum(len(r.data) for r in batch)
                self._ctx.metrics.received.labels("udp").inc(len(batch))

    async def aclose(self, timeout_s: float) -> None:
        """Append what is queued (bounded by ``timeout_s``), then stop the drain task."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._queue and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
