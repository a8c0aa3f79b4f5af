"""Syslog drains: app output and router access lines leave as Cloud Foundry writes them (RFC 5424 over TCP).

A :class:`DrainBinding` binds one app (GUID) to a drain URL ``syslog://host:port`` (TCP, octet-counted
frames, RFC 6587; the format is :mod:`.syslog_format`). :class:`SyslogDrainWriter` runs one thread that
every ``poll_s``

1. tails the local platform's instance log files ``logs/apps/<local app>-<index>.log`` (supervisord writes
   stdout+stderr to one file, so a line is stderr-like, PRI 11, when it carries `` ERROR ``/`` CRITICAL ``,
   as the platform's rsyslog rules decide) — files that exist at start are read from their end, new ones
   (scaling) from the start;
2. sends every queued line to its drain, reconnecting after a failure (the line stays queued).

Router access lines (``[RTR/0]``) come from :class:`.gorouter_access.RouterAccessTap` through
:meth:`SyslogDrainWriter.on_request`. Each drain's queue holds at most ``max_queue`` lines; the oldest is
dropped beyond that. Metrics: ``paramedic_cf_sim_drain_lines_total{outcome=sent|dropped}``,
``paramedic_cf_sim_drain_errors_total{reason}``; :meth:`stats` feeds the syslog agent's own KPIs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter

from platforms.cf_sim.components import DrainStats
from platforms.cf_sim.foundation import Foundation
from platforms.cf_sim.gorouter_access import RouterRequest
from platforms.cf_sim.syslog_format import app_line, frame, router_line
from platforms.instrument import per_registry

__all__ = ["DrainBinding", "SyslogDrainWriter", "parse_drain_url"]

_MAX_CHUNK = 1024 * 1024


def parse_drain_url(url: str) -> tuple[str, int]:
    """(host, port) of ``syslog://host:port``; ``ValueError`` says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "syslog" or not parts.hostname or parts.port is None:
        raise ValueError(
            f"drain url {url!r}: need syslog://host:port (TCP; syslog-tls and https are not simulated)"
        )
    return parts.hostname, parts.port


@dataclass(frozen=True, slots=True)
class DrainBinding:
    app_guid: str
    url: str


@dataclass(frozen=True, slots=True)
class _DrainMetrics:
    lines: Counter
    errors: Counter


def _build(registry: CollectorRegistry) -> _DrainMetrics:
    return _DrainMetrics(
        Counter(
            "paramedic_cf_sim_drain_lines", "Syslog drain lines, by outcome.", ["outcome"], registry=registry
        ),
        Counter(
            "paramedic_cf_sim_drain_errors",
            "Syslog drain send failures, by reason.",
            ["reason"],
            registry=registry,
        ),
    )


_drain_metrics = per_registry(_build)


class _Drain:
    def __init__(self, url: str, max_queue: int) -> None:
        self.url = url
        self.address = parse_drain_url(url)
        self.queue: deque[bytes] = deque()
        self.max_queue = max_queue
        self.sock: socket.socket | None = None
        self.retry_at = 0.0


class SyslogDrainWriter:
    def __init__(
        self,
        foundation: Foundation,
        app_logs_dir: Path,
        bindings: list[DrainBinding],
        *,
        registry: CollectorRegistry,
        poll_s: float = 0.2,
        max_queue: int = 10_000,
        router_host_suffix: str = ".local",
    ) -> None:
        self.foundation = foundation
        self.app_logs_dir = app_logs_dir
        self.poll_s = poll_s
        self.router_host_suffix = router_host_suffix
        self._drains: dict[str, _Drain] = {}
        self._by_app: dict[str, list[_Drain]] = {}
        for b in bindings:
            drain = self._drains.setdefault(b.url, _Drain(b.url, max_queue))
            self._by_app.setdefault(b.app_guid, []).append(drain)
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._metrics = _drain_metrics(registry)
        self.sent = 0
        self.dropped = 0

    def stats(self) -> DrainStats:
        return DrainStats(egress=self.sent, dropped=self.dropped, drains=len(self._drains))

    def start(self) -> None:
        for path in self.app_logs_dir.glob("*.log"):
            self._offsets[path] = path.stat().st_size
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cf-sim-syslog-drain", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for drain in self._drains.values():
            if drain.sock is not None:
                drain.sock.close()
                drain.sock = None

    def _enqueue(self, app_guid: str, line: str) -> None:
        data = frame(line)
        with self._lock:
            for drain in self._by_app.get(app_guid, ()):
                if len(drain.queue) >= drain.max_queue:
                    drain.queue.popleft()
                    self.dropped += 1
                    self._metrics.lines.labels("dropped").inc()
                drain.queue.append(data)

    def on_request(self, r: RouterRequest) -> None:
        """A router access line for the request's app (called from the router tap's thread)."""
        app = self.foundation.app_by_local(r.backend)
        if app is not None and app.guid in self._by_app:
            self._enqueue(app.guid, router_line(app, r, f"{r.backend}{self.router_host_suffix}"))

    def _tail(self, now: float) -> None:
        for path in sorted(self.app_logs_dir.glob("*.log")):
            local, _, index = path.stem.rpartition("-")
            app = self.foundation.app_by_local(local)
            if app is None or not index.isdigit() or app.guid not in self._by_app:
                continue
            offset = self._offsets.get(path, 0)
            try:
                size = path.stat().st_size
                if size < offset:  # truncated or rotated
                    offset = 0
                with path.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read(_MAX_CHUNK)
            except OSError:
                continue
            self._offsets[path] = offset + len(chunk)
            data = self._partial.pop(path, b"") + chunk
            *lines, rest = data.split(b"\n")
            if rest:
                self._partial[path] = rest[-65536:]
            for raw in lines:
                text = raw.decode("utf-8", errors="replace").rstrip("\r")
                if text:
                    err = " ERROR " in text or " CRITICAL " in text
                    self._enqueue(app.guid, app_line(app, int(index), text, now, stderr=err))

    def _send(self, drain: _Drain, now: float) -> None:
        if now < drain.retry_at:
            return
        while True:
            with self._lock:
                if not drain.queue:
                    return
                data = drain.queue[0]
            try:
                if drain.sock is None:
                    drain.sock = socket.create_connection(drain.address, timeout=2.0)
                drain.sock.sendall(data)
            except OSError as exc:
                self._metrics.errors.labels(type(exc).__name__).inc()
                if drain.sock is not None:
                    drain.sock.close()
                drain.sock = None
                drain.retry_at = now + 1.0
                return
            with self._lock:
                if drain.queue and drain.queue[0] is data:
                    drain.queue.popleft()
            self.sent += 1
            self._metrics.lines.labels("sent").inc()

    def flush_once(self) -> None:
        """One tail + send pass (the thread's loop body)."""
        now = time.time()
        self._tail(now)
        for drain in list(self._drains.values()):
            self._send(drain, now)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.flush_once()
        self.flush_once()
