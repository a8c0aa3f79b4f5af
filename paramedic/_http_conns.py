"""HTTP connections a stranger can hold: caps per client and in all, deadlines for a request head and body.

uvicorn times a connection out only between requests (``timeout_keep_alive``, armed when a response ends):
a connection that never sends a request, or sends its head a byte at a time, is held for ever. Before this
module, 1,600 such connections from one unauthenticated client (at an open-files limit of 1,536) took every
file descriptor of ``paramedic serve``: ``/-/healthy`` and queries timed out, scrapes failed with "Too many
open files" and the event loop spun on failed ``accept()`` calls (found by stop 33's audit).

:func:`guarded_h11` returns uvicorn's h11 protocol with these guards (``server.limits``):

- ``max_connections_per_client`` per client (the peer's address; an IPv6 peer by its /64 prefix, which one
  host usually holds whole): a connection over it is closed at once, before anything is read. A trusted
  proxy's clients all share its address, so ``server.trusted_proxies`` are exempt from it.
- ``max_connections`` in all, for peers other than loopback and trusted proxies (health checks, the local
  scraper, the proxy in front): those may open :data:`EXEMPT_RESERVE` more beyond it, so strangers filling
  the cap do not lock them out. The bound is checked against the connections admitted (never against
  uvicorn's ``connections``, which during an accept flood still holds hundreds refused in the same pass),
  and a peer without an address (one that reset before its connection was made) counts as a stranger.
  At the cap, the oldest connection still waiting for a request head is closed to make room; only when
  none waits is the new connection closed.
- ``request_head_timeout_s``: from the moment a connection waits for a request head (accepted, or its last
  response sent with no pipelined request already started) to the moment the whole head has arrived. A
  request being answered (a live tail, a long query, a pipelined one too) is never cut by it.
- a request body must arrive at :data:`MIN_BODY_RATE` bytes/s or more, averaged over each window of
  ``request_head_timeout_s`` (1 KiB/s: 30 KiB per 30 s, below any real link; a body trickled a byte a
  second is cut within one window). Windows while the app is not reading (uvicorn paused reading) or has
  already started its answer do not count.

- an answer already finished but still in the write buffer (a client reading slowly) is never cut by
  eviction or the head deadline; instead, while a connection waits or closes with an answer unsent, the
  client must read it at :data:`MIN_BODY_RATE` or more, averaged over the time since the answer finished
  (checked at the end of each ``request_head_timeout_s`` window), else the connection is aborted: a client
  that never reads would otherwise hold its slot, and a descriptor, for ever. A reader ahead of that rate
  may stall for up to :data:`DRAIN_STALL_WINDOWS` windows (2 minutes at 30 s) on a multi-MiB answer;
  credit beyond that is not banked (the kernel takes a never-reading client's whole receive buffer).
- an answer in progress (a live tail, a long download) whose client stops reading fills the write buffer
  and pauses writing; the same rate then applies to the time writing is paused in that answer: its
  client must have read :data:`MIN_BODY_RATE` per second of it, less :data:`DRAIN_STALL_WINDOWS` windows
  of grace, checked at the end of each window, else the connection is aborted. A reader that keeps up
  (writing never paused, or resumed soon) is never cut, however long the answer runs.
- a pipelined request is not started while the answer before it is stuck in a paused write buffer: reading
  pauses (as h11 does for pipelining) and the finished answer's drain rule applies; the next request starts
  when writing resumes. Before, each next answer started and waited for a drain that never came, so it
  was never complete and no deadline, nor eviction, could take the connection.

Refusals are counted in ``paramedic_http_connections_refused_total{reason}`` (``max_connections``,
``max_connections_per_client``, ``request_head_timeout``, ``request_body_timeout``,
``response_drain_timeout``). An exception in a guard callback aborts the connection (fail closed) and is
logged: a bug there must not leave a connection unguarded. Each guard's first failure is logged with its
traceback, later ones at most once every 10 s with the number held back (a bug hit by every connection of
a flood would otherwise write a traceback per connection).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import time
from collections import Counter as Tally
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Concatenate, ParamSpec

import h11
from prometheus_client import CollectorRegistry, Counter
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DRAIN_STALL_WINDOWS", "EXEMPT_RESERVE", "MIN_BODY_RATE", "client_key", "guarded_h11"]

EXEMPT_RESERVE = 64  # connections loopback and trusted peers may hold beyond max_connections
MIN_BODY_RATE = 1024  # bytes/s a request body must average over each request_head_timeout_s window
DRAIN_STALL_WINDOWS = 4  # windows an unsent answer's reader may stall after reading ahead of MIN_BODY_RATE
_REASONS = (
    "max_connections",
    "max_connections_per_client",
    "request_head_timeout",
    "request_body_timeout",
    "response_drain_timeout",
)
log = logging.getLogger("paramedic")
_P = ParamSpec("_P")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_key(address: str) -> str:
    """The key a client's connections are counted under: its address, or for IPv6 its /64 prefix (a host
    gets a whole /64, so counting single IPv6 addresses would give it 2^64 caps)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


class _FailureLog:
    """Logs guard failures as the accept-error throttle does (:mod:`paramedic.fds`): each guard's first
    failure with its traceback (a second bug in another guard must not hide behind the first one's), then
    at most one line per ``interval_s`` with the number held back. A guard bug hit by every connection of a
    flood would otherwise write a traceback per connection; there are only a handful of guards."""

    def __init__(self, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.traced: set[str] = set()  # guards whose first failure was logged with its traceback
        self.held = 0  # failures not logged since the last line
        self._next = float("-inf")

    def report(self, guard: str) -> None:
        """Log (or count) one failure of ``guard``; call it from an ``except`` block."""
        now = self.clock()
        if guard not in self.traced:
            self.traced.add(guard)
            self._next = now + self.interval_s
            log.exception("HTTP connection guard %s failed: closing the connection", guard)
            return
        if now < self._next:
            self.held += 1
            return
        held, self.held, self._next = self.held, 0, now + self.interval_s
        log.error(
            "HTTP connection guard %s failed: closing the connection (traceback logged with its first "
            "failure; %d more failures not logged since the last line; at most one line every %g s)",
            guard,
            held,
            self.interval_s,
        )


_FAILURES = _FailureLog()


def _fail_closed(
    method: Callable[Concatenate[_GuardedH11, _P], None],
) -> Callable[Concatenate[_GuardedH11, _P], None]:
    """A guard callback that aborts its connection (and logs why) when it raises: a bug in a guard must not
    leave a connection open and unguarded, nor kill the event loop's callback with a stray traceback."""

    @functools.wraps(method)
    def guarded(self: _GuardedH11, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception:
            _FAILURES.report(method.__name__)
            transport = getattr(self, "transport", None)
            if transport is not None:
                transport.abort()

    return guarded


class _GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with the guards of the module docstring (settings in class attributes)."""

    max_connections: ClassVar[int]
    max_per_client: ClassVar[int]
    head_timeout_s: ClassVar[float]
    trusted: ClassVar[tuple[_Network, ...]]
    refused: ClassVar[Counter]
    by_client: ClassVar[Tally[str]]
    counted: ClassVar[set[_GuardedH11]]  # connections under max_connections (not loopback or trusted)
    # admitted loopback / trusted connections: their bound is checked against counted + exempt, never
    # against uvicorn's ``connections``, which still holds connections refused in this accept pass until
    # their connection_lost runs (a flood of refused strangers would lock health checks out)
    exempt: ClassVar[set[_GuardedH11]]
    # counted connections waiting for a request head, longest waiting first (eviction takes the first)
    waiting: ClassVar[OrderedDict[_GuardedH11, None]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._buffered = 0  # write buffer size when the head/drain deadline was armed
        self._drain_started = 0.0  # loop time when the connection began waiting (its answer draining)
        self._drained = 0  # answer bytes the client has read since then
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_bytes = 0
        self._key: str | None = None  # the by_client key it is counted under
        self._stall_timer: asyncio.TimerHandle | None = None
        self._stalled_s = 0.0  # seconds writing was paused in this answer, before the current pause
        self._stall_drained = 0  # bytes the client read while writing was paused in this answer
        self._paused_at: float | None = None  # loop time writing was paused (None: not paused)
        self._paused_buffer = 0  # write buffer size then (no writes happen while paused)
        self._deferred = False  # uvicorn's on_response_complete held back until writing resumes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._admit()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release_or_log()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        """The transport goes to a WebSocket protocol and this one never sees ``connection_lost``: release
        its slot and timers now, or its client's count would leak (``paramedic serve`` passes ``ws="none"``,
        so this is a second line)."""
        self._release_or_log()
        super().handle_websocket_upgrade(event)

    def data_received(self, data: bytes) -> None:
        self._body_bytes += len(data)
        super().data_received(data)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request head arrived whole: the request is the app's now
            self._request_started()

    def on_response_complete(self) -> None:
        if self.flow.write_paused and self.conn.their_state is h11.DONE and not self.transport.is_closing():
            # the answer is stuck in a paused write buffer: uvicorn would start a pipelined request now,
            # whose answer then waits for a drain for ever (never complete, so never under a deadline).
            # Only once the request is whole can one follow: an early answer (the app answered without
            # reading the body) goes on reading and discarding the rest of the body, or a client that
            # sends all of its body before reading blocks sending while the server blocks writing
            self._deferred = True
            self.flow.pause_reading()
        else:
            super().on_response_complete()
        self._response_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._writing_resumed()

    # -- guards (each entry point fails closed) ----------------------------------------------------------
    @_fail_closed
    def _admit(self) -> None:
        address = self.client[0] if self.client else None
        trusted, loopback = self._classify(address)
        key = client_key(address) if address is not None and not trusted else None
        if key is not None and self.by_client[key] >= self.max_per_client:
            self._refuse("max_connections_per_client")
            return
        # a peer with no address (it reset before its connection was made: a flood's RSTs) is a stranger;
        # exempting it let dead connections fill the exempt bound and lock health checks out
        if trusted or loopback:
            # exempt peers may hold EXEMPT_RESERVE beyond the cap; at that bound they take a waiting
            # stranger's slot (a proxy carrying real clients outranks an idle stranger)
            if (
                len(self.counted) + len(self.exempt) >= self.max_connections + EXEMPT_RESERVE
                and not self._evict_oldest_waiting()
            ):
                self._refuse("max_connections")
                return
            self.exempt.add(self)
        elif len(self.counted) >= self.max_connections and not self._evict_oldest_waiting():
            self._refuse("max_connections")
            return
        else:
            self.counted.add(self)
        if key is not None:
            self.by_client[key] += 1
            self._key = key
        self._arm_head_timer()

    @_fail_closed
    def _request_started(self) -> None:
        self._cancel_head_timer()
        self._stalled_s, self._stall_drained = 0.0, 0  # each answer's stalls are judged on their own
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self._arm_body_timer()

    @_fail_closed
    def _writing_paused(self) -> None:
        if self.cycle is None or self.cycle.response_complete or self._paused_at is not None:
            return  # a finished answer has the drain deadline
        self._paused_at = self.loop.time()
        self._paused_buffer = self.transport.get_write_buffer_size()
        self._arm_stall_timer()

    @_fail_closed
    def _writing_resumed(self) -> None:
        self._end_stall()
        if self._deferred:
            self._deferred = False
            H11Protocol.on_response_complete(self)  # starts the pipelined request, if any
            self._response_complete()

    def _end_stall(self) -> None:
        """Bank the pause that ends now (writing resumed, or the answer finished)."""
        self._cancel_stall_timer()
        if self._paused_at is not None:
            self._stalled_s += self.loop.time() - self._paused_at
            self._stall_drained += max(0, self._paused_buffer - self.transport.get_write_buffer_size())
            self._paused_at = None

    def _arm_stall_timer(self) -> None:
        self._cancel_stall_timer()
        self._stall_timer = self.loop.call_later(self.head_timeout_s, self._stall_window_ended)

    def _cancel_stall_timer(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    @_fail_closed
    def _stall_window_ended(self) -> None:
        self._stall_timer = None
        if self._paused_at is None or self.cycle is None or self.cycle.response_complete:
            return
        paused_s = self._stalled_s + self.loop.time() - self._paused_at
        drained = self._stall_drained + max(0, self._paused_buffer - self.transport.get_write_buffer_size())
        owed = MIN_BODY_RATE * (paused_s - DRAIN_STALL_WINDOWS * self.head_timeout_s)
        if drained < owed:
            self._refuse("response_drain_timeout")
            return
        self._arm_stall_timer()

    @_fail_closed
    def _response_complete(self) -> None:
        self._end_stall()
        if self._deferred:
            self._arm_head_timer()  # uvicorn's part waits for the drain; this one's deadline does not
            return
        if self.transport.is_closing():
            if self.transport.get_write_buffer_size() > 0:
                self._arm_head_timer(waiting=False)  # closing with an unsent answer: a drain deadline
            return
        # uvicorn's on_response_complete starts a pipelined request already received (start_next_cycle +
        # handle_events): that request is being answered and must not get a head deadline.
        if self.cycle is None or self.cycle.response_complete:
            self._arm_head_timer()  # the next head has the same deadline (keep-alive ends idle waits sooner)

    def _classify(self, address: str | None) -> tuple[bool, bool]:
        """(a trusted proxy, a loopback address)."""
        if address is None:
            return False, False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False, False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.trusted), ip.is_loopback

    def _evict_oldest_waiting(self) -> bool:
        """Close the counted connection that has waited longest for a request head; False when none waits.
        One whose finished answer is still in its write buffer is skipped: aborting would discard it (the
        drain deadline handles a client that stopped reading)."""
        for conn in self.waiting:
            if not conn.transport.is_closing() and conn.transport.get_write_buffer_size() == 0:
                conn._refuse("max_connections")
                return True
        return False

    def _release_or_log(self) -> None:
        try:
            self._release()
        except Exception:  # connection_lost must still reach uvicorn
            log.exception("HTTP connection guard could not release a connection's slots")

    def _release(self) -> None:
        """Give back its slots and stop its timers (idempotent: lost, evicted and upgraded all call it)."""
        self._cancel_head_timer()
        self._cancel_body_timer()
        self._cancel_stall_timer()
        self.counted.discard(self)
        self.exempt.discard(self)
        if self._key is not None:
            self.by_client[self._key] -= 1
            if self.by_client[self._key] <= 0:
                del self.by_client[self._key]
            self._key = None

    def _refuse(self, reason: str) -> None:
        self.refused.labels(reason).inc()
        self._release()
        self.transport.abort()

    def _arm_head_timer(self, *, waiting: bool = True) -> None:
        """Arm the head deadline (``waiting``: it waits for a request head, so eviction may take it) or, for
        a closing connection, only the drain deadline."""
        self._cancel_head_timer()
        if waiting and self in self.counted:
            self.waiting[self] = None
        self._drain_started, self._drained = self.loop.time(), 0
        self._rearm_deadline()

    def _rearm_deadline(self) -> None:
        self._buffered = self.transport.get_write_buffer_size()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        self.waiting.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    @_fail_closed
    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete and not self.transport.is_closing():
            self.waiting.pop(self, None)  # a request is being answered: never cut it, nor evict it
            return
        buffered = self.transport.get_write_buffer_size()
        if buffered > 0:  # a finished answer still flushing: wait while the client reads it
            # at MIN_BODY_RATE or more on average since the answer finished (a byte per window would hold
            # the slot for ever; a per-window rate would cut a multi-MiB answer read fast, then stalled)
            windows = max(1, round((self.loop.time() - self._drain_started) / self.head_timeout_s))
            per_window = MIN_BODY_RATE * self.head_timeout_s
            # credit capped at DRAIN_STALL_WINDOWS ahead: a client with a huge receive buffer that never
            # reads (the kernel takes megabytes at once) must not bank hours
            self._drained = min(
                self._drained + max(0, self._buffered - buffered),
                int(per_window * (windows + DRAIN_STALL_WINDOWS)),
            )
            if self._drained >= per_window * windows:
                self._rearm_deadline()
            else:
                self._refuse("response_drain_timeout")
            return
        if not self.transport.is_closing():
            self._refuse("request_head_timeout")

    def _arm_body_timer(self) -> None:
        self._cancel_body_timer()
        # body bytes that came in the head's packet are already in the cycle's buffer
        self._body_bytes = len(self.cycle.body) if self.cycle is not None else 0
        self._body_timer = self.loop.call_later(self.head_timeout_s, self._body_window_ended)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    @_fail_closed
    def _body_window_ended(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None or self.conn.their_state is not h11.SEND_BODY:
            return  # the body is whole (or the connection gone)
        if cycle.response_started or cycle.response_complete:
            return  # the app answered without the rest of the body: the answer decides
        # the client sent "Expect: 100-continue" and waits until the app reads: not its delay
        idle = self.flow.read_paused or cycle.waiting_for_100_continue
        if not idle and self._body_bytes < MIN_BODY_RATE * self.head_timeout_s:
            self._refuse("request_body_timeout")
            return
        self._arm_body_timer()


def guarded_h11(
    *,
    max_connections: int,
    max_connections_per_client: int,
    request_head_timeout_s: float,
    trusted_proxies: Sequence[_Network],
    registry: CollectorRegistry,
) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with these guards (pass it as ``uvicorn.Config(http=...)``); its
    refusals are counted in ``registry``."""
    refused = Counter(
        "paramedic_http_connections_refused",
        "HTTP connections closed by a connection cap, a request head or body deadline or an answer not "
        "read, by reason.",
        ["reason"],
        registry=registry,
    )
    for reason in _REASONS:
        refused.labels(reason)
    settings: dict[str, Any] = {
        "max_connections": max_connections,
        "max_per_client": max_connections_per_client,
        "head_timeout_s": request_head_timeout_s,
        "trusted": tuple(trusted_proxies),
        "refused": refused,
        "by_client": Tally[str](),
        "counted": set[_GuardedH11](),
        "exempt": set[_GuardedH11](),
        "waiting": OrderedDict[_GuardedH11, None](),
    }
    return type("GuardedH11Protocol", (_GuardedH11,), settings)
