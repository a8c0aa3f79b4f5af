"""The PromQL engine behind the simulated Log Cache: a real VictoriaMetrics, fed every stored point.

Why VictoriaMetrics and not Paramedic's own engine or Prometheus 2.42:

* Paramedic's own PromQL engine would test Paramedic against itself: the simulator must answer with an
  engine nobody here wrote.
* Log Cache's points carry their envelope timestamps and arrive late or out of order (a producer samples
  every interval, a timer's time is its request's stop). VictoriaMetrics imports samples with explicit
  timestamps in the Prometheus text format (``/api/v1/import/prometheus``), in any order, and
  ``/internal/force_flush`` makes them queryable at once. Prometheus 2.42 would need the snappy+protobuf
  remote-write receiver and an out-of-order window, and rejects samples older than its head block.
* Its ``/api/v1/query`` and ``/api/v1/query_range`` answer PromQL (MetricsQL is a superset) in the
  Prometheus JSON shape, which is also Log Cache's; the API layer (:mod:`platforms.cf_sim.log_cache`) only
  keeps ``status``/``data``/``error`` and renames nothing.

:class:`VictoriaMetricsEngine` starts the binary (``victoria-metrics``, Debian) on a free loopback port with
its own data directory (queries time out after 10 s; caches get 10% of RAM), and stops it by PID. Queries
use ``latency_offset=0s`` and ``nocache=1`` so a point written before the query is in the answer.
Thread-safe (one httpx client; writes are serialised).
"""

from __future__ import annotations

import math
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import httpx

from platforms.cf_sim.log_cache_store import Point
from platforms.local.processes import ChildProcess, spawn
from platforms.local.state import free_port

__all__ = ["PromQLEngine", "PromQLError", "VictoriaMetricsEngine", "exposition_lines"]


class PromQLError(Exception):
    """The engine refused a query (``status`` 400/422: bad query) or could not be reached (``status`` 503)."""

    def __init__(self, message: str, *, status: int, error_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition_lines(points: Iterable[Point]) -> str:
    """Prometheus text lines with timestamps (ms) for ``points``; labels = tags + ``source_id``."""
    out = []
    for p in points:
        if not math.isfinite(p.value):
            continue
        labels = {**p.tags, "source_id": p.source_id}
        body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        out.append(f"{p.name}{{{body}}} {p.value!r} {round(p.time_s * 1000)}\n")
    return "".join(out)


class PromQLEngine(Protocol):
    """What the Log Cache API needs from an engine: store points, answer Prometheus-API queries (the
    success body as JSON) or raise :class:`PromQLError`. Implementations are thread-safe."""

    def write(self, points: list[Point]) -> None: ...

    def query(self, params: dict[str, str]) -> dict[str, Any]: ...

    def query_range(self, params: dict[str, str]) -> dict[str, Any]: ...


class VictoriaMetricsEngine:
    """A VictoriaMetrics child process on 127.0.0.1; ``start()`` before use, ``stop()`` after."""

    def __init__(self, data_dir: Path, *, binary: str | None = None, timeout_s: float = 10.0) -> None:
        self.data_dir = data_dir
        self.binary = binary or shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
        self.port = 0
        self._child: ChildProcess | None = None
        self._http = httpx.Client(timeout=timeout_s)
        self._lock = threading.Lock()
        self._dirty = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        argv = [
            self.binary,
            f"-storageDataPath={self.data_dir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=1d",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-search.maxQueryDuration=10s",
            "-memory.allowedPercent=10",
        ]
        self._child = spawn("victoria-metrics", argv, self.data_dir / "victoria-metrics.log")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._child.alive():
                raise RuntimeError(f"victoria-metrics exited:\n{self._child.log_tail()}")
            try:
                if self._http.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"victoria-metrics did not answer /health within {timeout_s:.0f}s")

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop()
        self._http.close()

    def write(self, points: list[Point]) -> None:
        body = exposition_lines(points)
        if not body:
            return
        with self._lock:
            resp = self._http.post(f"{self.url}/api/v1/import/prometheus", content=body.encode())
            if resp.status_code >= 300:
                raise PromQLError(f"import: HTTP {resp.status_code}", status=503, error_type="internal")
            self._dirty = True

    def _flush(self) -> None:
        with self._lock:
            if self._dirty:
                self._http.get(f"{self.url}/internal/force_flush").raise_for_status()
                self._dirty = False

    def _ask(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            self._flush()
            resp = self._http.get(
                f"{self.url}{path}", params={**params, "latency_offset": "0s", "nocache": "1"}
            )
        except httpx.HTTPError as exc:
            raise PromQLError(f"engine unavailable: {exc}", status=503, error_type="unavailable") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise PromQLError(
                f"engine answered HTTP {resp.status_code}", status=503, error_type="internal"
            ) from exc
        if resp.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", "") if isinstance(body, dict) else ""
            raise PromQLError(str(error or f"HTTP {resp.status_code}"), status=400, error_type="bad_data")
        return body

    def query(self, params: dict[str, str]) -> dict[str, Any]:
        return self._ask("/api/v1/query", params)

    def query_range(self, params: dict[str, str]) -> dict[str, Any]:
        return self._ask("/api/v1/query_range", params)
