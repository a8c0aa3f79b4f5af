"""Per-request data from the real HAProxy router: its ``option httplog`` lines, read off its syslog socket.

HAProxy (the local platform's router, see :mod:`platforms.local.haproxy_config`) sends one syslog datagram
per request to the unix socket ``router-log.sock``. When the platform runs without its rsyslog forwarder the
socket is free, and :class:`RouterAccessTap` binds it: each line becomes a :class:`RouterRequest` (backend =
local app, server ``<app>-<index>``, status, method, path, HAProxy's ``Ta`` total active time in ms,
termination state). With the forwarder running, rsyslog owns the socket: with ``relay=True`` the tap renames
rsyslog's socket file to ``router-log.sock.1`` (rsyslog keeps reading the same socket under the new name),
binds the original path and passes every datagram on to it, so both get every line; ``stop()`` renames it
back. (An rsyslog restart while the tap runs replaces the socket file and ends the tap's feed.) Without
``relay`` :meth:`RouterAccessTap.start` raises ``OSError`` for a socket in use.

Requests wait in a bounded queue for the gorouter producer (``drain()``); listeners (the syslog drain's
``[RTR/0]`` lines) are called from the tap thread and must not block. Metrics:
``paramedic_cf_sim_router_lines_total{outcome=parsed|unparsed|dropped|relay_failed}``.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from platforms.instrument import per_registry

__all__ = ["RouterAccessTap", "RouterRequest", "parse_httplog"]

# HAProxy's default httplog format (no captures configured):
# %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r
_HTTPLOG = re.compile(
    r"(?P<client>\S+):\d+ \[[^\]]+\] (?P<frontend>\S+) (?P<backend>[^/\s]+)/(?P<server>\S+) "
    r"-?\d+/-?\d+/-?\d+/-?\d+/\+?(?P<ta>-?\d+) (?P<status>-?\d+) \+?(?P<bytes>\d+) \S+ \S+ "
    r"(?P<term>\S{4}) \S+ \S+ \"(?P<method>[A-Z]+) (?P<path>\S*)"
)
MAX_DATAGRAM = 8192


@dataclass(frozen=True, slots=True)
class RouterRequest:
    time_s: float  # when the router logged it (the request's end)
    backend: str  # the local app; "no_route" for unknown hosts
    server: str  # "<app>-<index>", "<NOSRV>" when no server took it
    status: int
    method: str
    path: str
    duration_ms: int  # HAProxy's Ta (total active time)
    bytes_sent: int
    termination: str  # HAProxy's 4-char termination state, "----" for a normal end
    client: str

    @property
    def instance_index(self) -> str | None:
        prefix, _, index = self.server.rpartition("-")
        return index if prefix == self.backend and index.isdigit() else None


def parse_httplog(line: str, time_s: float) -> RouterRequest | None:
    """The request in one HAProxy httplog syslog line (any syslog header before it), or None."""
    m = _HTTPLOG.search(line)
    if m is None:
        return None
    return RouterRequest(
        time_s=time_s,
        backend=m["backend"],
        server=m["server"],
        status=int(m["status"]),
        method=m["method"],
        path=m["path"][:2048],
        duration_ms=max(0, int(m["ta"])),
        bytes_sent=int(m["bytes"]),
        termination=m["term"],
        client=m["client"],
    )


@dataclass(frozen=True, slots=True)
class _TapMetrics:
    lines: Counter


def _build(registry: CollectorRegistry) -> _TapMetrics:
    return _TapMetrics(
        Counter(
            "paramedic_cf_sim_router_lines",
            "HAProxy access log lines the gorouter simulation received, by outcome.",
            ["outcome"],
            registry=registry,
        )
    )


_tap_metrics = per_registry(_build)


def _in_use(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class RouterAccessTap:
    """Binds ``socket_path`` (unix datagram) and parses every line into a :class:`RouterRequest`."""

    def __init__(
        self,
        socket_path: Path,
        *,
        registry: CollectorRegistry,
        max_pending: int = 100_000,
        clock: Callable[[], float] = time.time,
        relay: bool = False,
    ) -> None:
        self.socket_path = socket_path
        self.relay = relay
        self.relay_to: Path | None = None
        self._relay_sock: socket.socket | None = None
        self._pending: deque[RouterRequest] = deque()
        self._max_pending = max_pending
        self._listeners: list[Callable[[RouterRequest], None]] = []
        self._lock = threading.Lock()
        self._clock = clock
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._metrics = _tap_metrics(registry)

    def add_listener(self, listener: Callable[[RouterRequest], None]) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        """Bind the socket (``OSError`` when another process, e.g. rsyslog, has it) and start reading."""
        if self.socket_path.exists():
            if not _in_use(self.socket_path):
                self.socket_path.unlink()  # stale: nobody reads it
            elif self.relay:
                owner = self.socket_path.with_name(self.socket_path.name + ".1")
                self.socket_path.rename(owner)
                self.relay_to = owner
                self._relay_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            else:
                raise OSError(f"{self.socket_path} is in use (the platform's rsyslog?)")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(self.socket_path))
        except OSError:
            sock.close()
            self._restore_owner()
            raise
        sock.settimeout(0.2)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cf-sim-router-tap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self.socket_path.unlink(missing_ok=True)
        self._restore_owner()

    def _restore_owner(self) -> None:
        if self._relay_sock is not None:
            self._relay_sock.close()
            self._relay_sock = None
        if self.relay_to is not None:
            if self.relay_to.exists() and not self.socket_path.exists():
                self.relay_to.rename(self.socket_path)
            self.relay_to = None

    def _run(self) -> None:
        sock = self._sock
        while sock is not None and not self._stop.is_set():
            try:
                data = sock.recv(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                return
            if self._relay_sock is not None and self.relay_to is not None:
                try:
                    self._relay_sock.sendto(data, str(self.relay_to))
                except OSError:
                    self._metrics.lines.labels("relay_failed").inc()
            self.feed(data.decode("utf-8", errors="replace"))

    def feed(self, line: str) -> RouterRequest | None:
        """Handle one syslog line (the reader thread calls this; tests may too)."""
        request = parse_httplog(line, self._clock())
        if request is None:
            self._metrics.lines.labels("unparsed").inc()
            return None
        with self._lock:
            if len(self._pending) >= self._max_pending:
                self._pending.popleft()
                self._metrics.lines.labels("dropped").inc()
            self._pending.append(request)
        self._metrics.lines.labels("parsed").inc()
        for listener in self._listeners:
            listener(request)
        return request

    def drain(self) -> list[RouterRequest]:
        """Every request received since the last call, oldest first."""
        with self._lock:
            out = list(self._pending)
            self._pending.clear()
        return out
