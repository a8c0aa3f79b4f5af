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

Cluster mode (``cluster`` in the config, a VictoriaMetrics cluster): each series is written to its tenant
(:mod:`metrics_store.remote._tenants`) through a vminsert at ``/insert/<accountID>:<projectID>/influx``
(influxdb-client appends ``/api/v2/write``); reads go to a vmselect at
``/select/<tenant>/prometheus/api/v1/export``. Each retry of a write goes to the next vminsert, each retry of
a read (connection errors, 5xx) to the next vmselect. A write returns only after a vminsert answered 2xx;
vminsert then keeps ``-replicationFactor`` copies on distinct vmstorage nodes. Run vmselect with
``-dedup.minScrapeInterval=1ms`` (replicas) and a short ``-search.tenantCacheExpireDuration`` (foundation
reads see a new tenant only once its tenant cache expires).

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
from metrics_store.base import FloatColumn, IntColumn
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
from metrics_store.remote._tenants import MULTITENANT, TENANT_LABELS, TenantMap

__all__ = ["LineWriter", "RemoteStore", "WriterFactory"]

log = logging.getLogger("metrics_store.remote")

LineWriter = Callable[[str], None]
"""Sends one line-protocol body; raises ApiException or urllib3.exceptions.HTTPError on failure."""

WriterFactory = Callable[[str], LineWriter]
"""Makes the :data:`LineWriter` for one influxdb-client base URL (one per vminsert and tenant in cluster
mode)."""

_MAX_LINES_PER_REQUEST = 50_000
# Prometheus' minTime/maxTime (web/api/v1): the widest range VictoriaMetrics' export accepts (it matches
# nothing beyond). Wider bounds, which the HTTP API passes on for any number it parses, mean the same.
_MIN_TIME_MS = (-(2**63) // 1000 + 62135596801) * 1000
_MAX_TIME_MS = ((2**63 - 1) // 1000 - 62135596801) * 1000 + 999
_MS = cast(WritePrecision, WritePrecision.MS)  # typed as the class, valued as its str constants


class RemoteStore:
    """``writer`` (one writer for every URL) or ``writer_factory`` (default: influxdb-client, synchronous)
    and ``read_transport`` (httpx) are injectable; ``sleep`` is the backoff sleeper."""

    def __init__(
        self,
        config: RemoteStoreConfig,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        writer: LineWriter | None = None,
        writer_factory: WriterFactory | None = None,
        read_transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cfg = config
        self._metrics = StoreMetrics(registry, "remote")
        self._sleep = sleep
        self._lock = threading.Lock()
        self._refs: dict[Labels, int] = {}
        self._prefixes: list[str] = []
        self._tenants: list[str] = []  # per ref: the cluster tenant ("" without a cluster)
        self._closed = False
        self._influx: list[InfluxDBClient] = []
        self._writers: dict[str, LineWriter] = {}
        cluster = config.cluster
        self._tenant_map = TenantMap(cluster) if cluster is not None else None
        self._insert_urls = (
            [u.rstrip("/") for u in cluster.insert_urls] if cluster else [str(config.write_url)]
        )
        self._select_urls = (
            [u.rstrip("/") for u in cluster.select_urls] if cluster else [str(config.read_url).rstrip("/")]
        )
        self._next_insert = 0
        self._next_select = 0
        if writer is not None:
            self._make_writer: WriterFactory = lambda _url: writer
        else:
            self._make_writer = writer_factory or self._influx_writer
        self._http = httpx.Client(timeout=config.timeout_s, transport=read_transport)

    def _influx_writer(self, url: str) -> LineWriter:
        config = self._cfg
        token = config.token.get_secret_value() if config.token else ""
        client = InfluxDBClient(
            url=url, token=token, org=config.org, timeout=int(config.timeout_s * 1000), retries=False
        )
        self._influx.append(client)
        api = client.write_api(write_options=SYNCHRONOUS)

        def write(body: str) -> None:
            api.write(bucket=config.bucket, org=config.org, record=body, write_precision=_MS)

        return write

    def _writer_for(self, tenant: str, attempt: int) -> tuple[str, LineWriter]:
        """The (base URL, writer) of this attempt: the next vminsert in turn, in ``tenant``'s path."""
        with self._lock:
            base = self._insert_urls[(self._next_insert + attempt) % len(self._insert_urls)]
            if attempt == 0:
                self._next_insert += 1
            url = f"{base}/insert/{tenant}/influx" if tenant else base
            w = self._writers.get(url)
            if w is None:
                w = self._writers[url] = self._make_writer(url)
        return url, w

    def series_ref(self, labels: Labels) -> int:
        with self._lock:
            ref = self._refs.get(labels)
            if ref is None:
                if self._closed:
                    raise StoreClosedError("store is closed")
                prefix = series_prefix(labels, self._cfg.naming)
                ref = len(self._prefixes)
                tm = self._tenant_map
                self._tenants.append(tm.write_tenant(labels) if tm is not None else "")
                self._prefixes.append(prefix)
                self._refs[labels] = ref
                self._metrics.series_created.inc()
            return ref

    def append(self, refs: IntColumn, timestamps_ms: IntColumn, values: FloatColumn) -> None:
        if self._closed:
            raise StoreClosedError("store is closed")
        if not len(refs) == len(timestamps_ms) == len(values):
            raise InvalidSampleError("append: refs/timestamps/values lengths differ")
        prefixes, tenants = self._prefixes, self._tenants
        by_tenant: dict[str, list[str]] = {}
        written = 0
        dropped = 0
        for ref, ts, value in zip(refs, timestamps_ms, values, strict=True):
            if not 0 <= ref < len(prefixes):
                raise UnknownSeriesError(f"append: unknown series ref {ref}")
            text = format_value(float(value), self._cfg.naming)
            if text is None:
                dropped += 1
                continue
            by_tenant.setdefault(tenants[ref], []).append(f"{prefixes[ref]}{text} {int(ts)}")
        for tenant, lines in by_tenant.items():
            for i in range(0, len(lines), _MAX_LINES_PER_REQUEST):
                self._write(tenant, "\n".join(lines[i : i + _MAX_LINES_PER_REQUEST]))
            written += len(lines)
        self._metrics.samples_appended.inc(written)
        if dropped:
            self._metrics.dropped("nan", dropped)

    def _write(self, tenant: str, body: str) -> None:
        delay = self._cfg.retry_backoff_s
        for attempt in range(self._cfg.max_retries + 1):
            url, writer = self._writer_for(tenant, attempt)
            try:
                writer(body)
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
                    f"write to {redact_url(url)} failed after {attempt + 1} attempt(s): {what}"
                ) from error
            self._metrics.write_retries.inc()
            log.warning("write to %s failed (%s); retry in %.2fs", redact_url(url), what, delay)
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
        # Newer VictoriaMetrics (the cluster releases) read a negative start as a duration and refuse
        # Prometheus' minTime; it stores no sample before 1970 anyway, so their reads start at 0.
        lowest = 0 if self._tenant_map is not None else _MIN_TIME_MS
        if end_ms < lowest:
            return []
        start_ms, end_ms = (min(max(t, lowest), _MAX_TIME_MS) for t in (start_ms, end_ms))
        influx = self._cfg.naming == "influxdb"
        tenant, extra = self._tenant_map.read_route(matchers) if self._tenant_map else ("", [])
        form = {
            "match[]": selector([*matchers, *extra], influx),
            "start": f"{start_ms / 1000:.3f}",
            "end": f"{end_ms / 1000:.3f}",
        }
        text = self._post_export(tenant, form)
        drop = TENANT_LABELS if tenant == MULTITENANT else frozenset()
        try:
            rows = [parse_export_line(line, influx, drop) for line in text.splitlines() if line]
        except RemoteReadError:
            self._metrics.error("read")
            raise
        data = merge_export(rows)
        for s in data:  # VM's export range is inclusive; clip anyway so every backend answers alike
            keep = (s.timestamps_ms >= start_ms) & (s.timestamps_ms <= end_ms)
            if not keep.all():
                s.timestamps_ms, s.values = s.timestamps_ms[keep], s.values[keep]
        return [s for s in data if len(s.timestamps_ms)]

    def _post_export(self, tenant: str, form: dict[str, str]) -> str:
        """POST ``/api/v1/export`` (in ``tenant``'s vmselect path in cluster mode); connection errors and
        5xx move on to the next vmselect, up to ``max_retries`` times."""
        path = f"/select/{tenant}/prometheus/api/v1/export" if tenant else "/api/v1/export"
        with self._lock:
            first = self._next_select
            self._next_select += 1
        tries = max(1, min(self._cfg.max_retries + 1, len(self._select_urls)))
        problem, cause = "", None
        for attempt in range(tries):
            base = self._select_urls[(first + attempt) % len(self._select_urls)]
            try:
                resp = self._http.post(base + path, data=form)
            except httpx.HTTPError as e:
                problem, cause = f"export from {redact_url(base)} failed: {e}", e
                continue
            if resp.status_code == 200:
                return resp.text
            problem, cause = (
                f"export from {redact_url(base)}: HTTP {resp.status_code}: {resp.text[:300]}",
                None,
            )
            if resp.status_code < 500:
                break
        self._metrics.error("read")
        raise RemoteReadError(problem) from cause

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._http.close()
        for client in self._influx:
            client.close()  # type: ignore[no-untyped-call]
