"""Remote metrics store: writes InfluxDB line protocol with influxdb-client, reads the Prometheus HTTP API.

Verified against VictoriaMetrics 1.79 (``/api/v2/write`` for writes, ``/api/v1/export`` for reads). Naming
and value encoding: see :mod:`metrics_store.remote._lineproto`. What differs from the embedded store:

* **Visibility**: VictoriaMetrics makes samples queryable after it flushes its in-memory buffers (≈1 s for
  known series, up to ~10 s for new ones; ``/internal/force_flush`` forces it). A ``select`` right after
  ``append`` may miss them.
* **NaN / staleness markers are not stored** (counted in
  ``paramedic_store_samples_dropped_total{reason="nan"}``); ±Inf round-trips; VM keeps values as a decimal
  mantissa/exponent, so subnormal floats (e.g. 5e-324) come back as 0.0.
* **Duplicates** ``(series, ts)``: VM keeps both raw samples; ``select`` returns one of them (the last in VM's
  order, which is by value, not by write time). Run VM with ``-dedup.minScrapeInterval`` to collapse them.
* ``series`` reads samples too (``/api/v1/series`` works per day, not per sample range).

Writes: retried with exponential backoff on 5xx, 429, timeouts and connection errors; a write that still
fails raises :class:`RemoteWriteError` (counted in ``paramedic_store_errors_total{reason="write"}``) — never
dropped silently. Other 4xx fail at once.

Thread safety: ``series_ref``/``append``/``select`` may be called from any thread (influxdb-client's
synchronous API and httpx.Client are thread-safe; the series table is guarded by a lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import cast

import httpx
import prometheus_client
import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException
from prometheus_client import CollectorRegistry

from metrics_store._metrics import StoreMetrics
from metrics_store.config import RemoteStoreConfig
from metrics_store.errors import (
    InvalidSampleError,
    RemoteReadError,
    RemoteWriteError,
    StoreClosedError,
    UnknownSeriesError,
)
from metrics_store.model import Labels, Matcher, SeriesData
from metrics_store.redact import redact_url
from metrics_store.remote._export import merge_export, parse_export_line, selector
from metrics_store.remote._lineproto import format_value, series_prefix

__all__ = ["LineWriter", "RemoteStore"]

log = logging.getLogger("metrics_store.remote")

LineWriter = Callable[[str], None]
"""Sends one line-protocol body; raises ApiException or urllib3.exceptions.HTTPError on failure."""

_MAX_LINES_PER_REQUEST = 50_000
# Prometheus' minTime/maxTime (web/api/v1): the widest range VictoriaMetrics' export accepts (it matches
# nothing beyond). Wider bounds, which the HTTP API passes on for any number it parses, mean the same.
_MIN_TIME_MS = (-(2**63) // 1000 + 62135596801) * 1000
_MAX_TIME_MS = ((2**63 - 1) // 1000 - 62135596801) * 1000 + 999
_MS = cast(WritePrecision, WritePrecision.MS)  # typed as the class, valued as its str constants


class RemoteStore:
    """``writer`` (default: influxdb-client, synchronous) and ``read_transport`` (httpx) are injectable;
    ``sleep`` is the backoff sleeper."""

    def __init__(
        self,
        config: RemoteStoreConfig,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        writer: LineWriter | None = None,
        read_transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cfg = config
        self._metrics = StoreMetrics(registry, "remote")
        self._sleep = sleep
        self._lock = threading.Lock()
        self._refs: dict[Labels, int] = {}
        self._prefixes: list[str] = []
        self._closed = False
        self._influx: InfluxDBClient | None = None
        if writer is None:
            token = config.token.get_secret_value() if config.token else ""
            self._influx = InfluxDBClient(
                url=config.write_url,
                token=token,
                org=config.org,
                timeout=int(config.timeout_s * 1000),
                retries=False,
            )
            api = self._influx.write_api(write_options=SYNCHRONOUS)

            def writer(body: str) -> None:
                api.write(bucket=config.bucket, org=config.org, record=body, write_precision=_MS)

        self._writer = writer
        self._http = httpx.Client(
            base_url=config.read_url.rstrip("/"), timeout=config.timeout_s, transport=read_transport
        )

    def series_ref(self, labels: Labels) -> int:
        with self._lock:
            ref = self._refs.get(labels)
            if ref is None:
                if self._closed:
                    raise StoreClosedError("store is closed")
                prefix = series_prefix(labels, self._cfg.naming)
                ref = len(self._prefixes)
                self._prefixes.append(prefix)
                self._refs[labels] = ref
                self._metrics.series_created.inc()
            return ref

    def append(self, refs: Sequence[int], timestamps_ms: Sequence[int], values: Sequence[float]) -> None:
        if self._closed:
            raise StoreClosedError("store is closed")
        if not len(refs) == len(timestamps_ms) == len(values):
            raise InvalidSampleError("append: refs/timestamps/values lengths differ")
        prefixes = self._prefixes
        lines: list[str] = []
        dropped = 0
        for ref, ts, value in zip(refs, timestamps_ms, values, strict=True):
            if not 0 <= ref < len(prefixes):
                raise UnknownSeriesError(f"append: unknown series ref {ref}")
            text = format_value(float(value), self._cfg.naming)
            if text is None:
                dropped += 1
                continue
            lines.append(f"{prefixes[ref]}{text} {int(ts)}")
        for i in range(0, len(lines), _MAX_LINES_PER_REQUEST):
            self._write("\n".join(lines[i : i + _MAX_LINES_PER_REQUEST]))
        self._metrics.samples_appended.inc(len(lines))
        if dropped:
            self._metrics.dropped("nan", dropped)

    def _write(self, body: str) -> None:
        delay = self._cfg.retry_backoff_s
        for attempt in range(self._cfg.max_retries + 1):
            try:
                self._writer(body)
                return
            except ApiException as e:
                retryable = e.status is not None and (e.status >= 500 or e.status == 429)
                error: Exception = e
                what = f"HTTP {e.status}: {(e.body or '')[:200]!r}"
            except urllib3.exceptions.HTTPError as e:
                retryable, error, what = True, e, f"{type(e).__name__}: {e}"
            if not retryable or attempt == self._cfg.max_retries:
                self._metrics.error("write")
                raise RemoteWriteError(
                    f"write to {redact_url(self._cfg.write_url)} failed after {attempt + 1} attempt(s): "
                    f"{what}"
                ) from error
            self._metrics.write_retries.inc()
            log.warning(
                "write to %s failed (%s); retry in %.2fs", redact_url(self._cfg.write_url), what, delay
            )
            self._sleep(delay)
            delay *= 2

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        t0 = time.perf_counter()
        out = self._export(matchers, start_ms, end_ms)
        self._metrics.query_duration.labels("remote", "select").observe(time.perf_counter() - t0)
        return out

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        t0 = time.perf_counter()
        out = [s.labels for s in self._export(matchers, start_ms, end_ms)]
        self._metrics.query_duration.labels("remote", "series").observe(time.perf_counter() - t0)
        return out

    def _export(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        if self._closed:
            raise StoreClosedError("store is closed")
        start_ms, end_ms = (min(max(t, _MIN_TIME_MS), _MAX_TIME_MS) for t in (start_ms, end_ms))
        influx = self._cfg.naming == "influxdb"
        form = {
            "match[]": selector(matchers, influx),
            "start": f"{start_ms / 1000:.3f}",
            "end": f"{end_ms / 1000:.3f}",
        }
        try:
            resp = self._http.post("/api/v1/export", data=form)
        except httpx.HTTPError as e:
            self._metrics.error("read")
            raise RemoteReadError(f"export from {redact_url(self._cfg.read_url)} failed: {e}") from e
        if resp.status_code != 200:
            self._metrics.error("read")
            raise RemoteReadError(
                f"export from {redact_url(self._cfg.read_url)}: HTTP {resp.status_code}: {resp.text[:300]}"
            )
        try:
            rows = [parse_export_line(line, influx) for line in resp.text.splitlines() if line]
        except RemoteReadError:
            self._metrics.error("read")
            raise
        data = merge_export(rows)
        for s in data:  # VM's export range is inclusive; clip anyway so every backend answers alike
            keep = (s.timestamps_ms >= start_ms) & (s.timestamps_ms <= end_ms)
            if not keep.all():
                s.timestamps_ms, s.values = s.timestamps_ms[keep], s.values[keep]
        return [s for s in data if len(s.timestamps_ms)]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._http.close()
        if self._influx is not None:
            self._influx.close()  # type: ignore[no-untyped-call]
