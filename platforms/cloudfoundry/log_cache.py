"""``LogCacheSource``: poll Cloud Foundry's Log Cache for metrics and append them to the metrics store.

Every ``log_cache.interval_s`` the source runs each configured query against Log Cache's PromQL-compatible
endpoint ``GET {log_cache.url}/api/v1/query?query=<expr>`` (Prometheus HTTP API JSON, ``vector``/``matrix``/
``scalar`` results) with the UAA client-credentials token of the platform config (the client needs
``logs.admin`` or ``doppler.firehose``). Queries with ``per_app: true`` run once per STARTED app with
``{app_guid}`` replaced by the app's GUID, which is its Log Cache ``source_id``; e.g.
``cpu{source_id="{app_guid}"}`` gives one series per instance (label ``instance_id``). Every sample is
appended with the result's labels, ``__name__`` (from the result, else the selector's metric name) and
``app`` = the app's name (per-app queries, or any result whose ``source_id`` is a known app GUID).

``LogCacheSource`` is a :class:`collector.base.MetricSource`; Cloud Foundry offers it to the collector
through :func:`log_cache_sources` (registered in :data:`platforms.factory.METRIC_SOURCES`), and the server
assembly starts and stops it with the other sources::

    [source] = log_cache_sources(cfg.platform, appender, registry=registry)  # [] without platform.log_cache
    await source.start()      # starts the poll loop on the running event loop
    ...
    await source.stop()       # cancels the loop and closes the HTTP client; idempotent

A failing query is counted in ``paramedic_cf_log_cache_errors_total{reason}``, logged, and skipped; the loop
keeps polling. HTTP is blocking (httpx sync client) and runs in a worker thread, one poll at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import prometheus_client
from prometheus_client import CollectorRegistry

from metrics_store.base import Appender
from metrics_store.model import labels_from
from platforms.cloudfoundry._client import CCClient, Json, UAATokens, api_error
from platforms.cloudfoundry._metrics import cf_metrics
from platforms.cloudfoundry.errors import CFApiError, CFUnavailableError, CloudFoundryError
from platforms.config import CloudFoundryPlatformConfig, LogCacheQuery

__all__ = ["LogCacheSource", "log_cache_sources", "samples_from_response"]

log = logging.getLogger("platforms.cloudfoundry.log_cache")

_SELECTOR_NAME = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{|$)")

Sample = tuple[dict[str, str], int, float]


def _obj(obj: Any) -> Json:
    return obj if isinstance(obj, dict) else {}


def _value(pair: Any) -> tuple[int, float] | None:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    try:
        return round(float(pair[0]) * 1000), float(pair[1])
    except (TypeError, ValueError):
        return None


def samples_from_response(body: Json, expr: str) -> list[Sample]:
    """(labels, timestamp_ms, value) of every sample in a Prometheus API query response."""
    if body.get("status") != "success":
        raise ValueError(f"status {body.get('status')!r}: {body.get('error', '')}")
    data = _obj(body.get("data"))
    kind, result = data.get("resultType"), data.get("result")
    m = _SELECTOR_NAME.match(expr)
    default_name = m.group(1) if m else ""
    out: list[Sample] = []
    if kind == "scalar":
        v = _value(result)
        if v is not None and default_name:
            out.append(({"__name__": default_name}, *v))
        return out
    if kind not in ("vector", "matrix") or not isinstance(result, list):
        raise ValueError(f"unsupported resultType {kind!r}")
    for series in result:
        if not isinstance(series, dict):
            continue
        metric = _obj(series.get("metric"))
        labels = {str(k): str(v) for k, v in metric.items()}
        if "__name__" not in labels and default_name:
            labels["__name__"] = default_name
        pairs = [series.get("value")] if kind == "vector" else (series.get("values") or [])
        for pair in pairs:
            v = _value(pair)
            if v is not None:
                out.append((labels, *v))
    return out


class LogCacheSource:
    """Polls Log Cache for ``config.log_cache.queries`` and appends the samples to ``appender``."""

    def __init__(
        self,
        config: CloudFoundryPlatformConfig,
        appender: Appender,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if config.log_cache is None:
            raise CloudFoundryError("LogCacheSource", "platform.log_cache is not configured")
        self._cfg = config
        self._lc = config.log_cache
        self._base = str(self._lc.url).rstrip("/")
        self._appender = appender
        self._clock = clock
        self._metrics = cf_metrics(registry)
        self._http = httpx.Client(timeout=self._lc.timeout_s, verify=config.verify_tls, transport=transport)
        self._tokens = UAATokens(
            self._http,
            str(config.uaa_url),
            config.client_id,
            config.client_secret.get_secret_value(),
            self._metrics,
            clock=clock,
        )
        self._cc = CCClient(
            self._http, str(config.api_url), self._tokens, self._metrics, retries=config.retries
        )
        self._apps: dict[str, str] = {}  # guid -> name
        self._apps_until = 0.0
        self._refs: dict[tuple[tuple[str, str], ...], int] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self.polls = 0  # completed polls (read by health checks and tests)

    async def start(self) -> None:
        """Start polling on the running event loop (first poll immediately); idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="cf-log-cache")

    async def stop(self) -> None:
        """Stop polling and close the HTTP client; idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._http.close()

    async def _run(self) -> None:
        while True:
            started = self._clock()
            try:
                await asyncio.to_thread(self.poll_once)
            except Exception as exc:  # the loop must survive any failure; it is counted and logged
                self._metrics.log_cache_errors.labels(type(exc).__name__).inc()
                log.warning("log cache poll failed: %s", exc)
            await asyncio.sleep(max(0.0, self._lc.interval_s - (self._clock() - started)))

    def _app_names(self) -> dict[str, str]:
        if self._clock() >= self._apps_until:
            apps = self._cc.list("/v3/apps", "/v3/apps")
            self._apps = {str(a["guid"]): str(a.get("name", "")) for a in apps if a.get("state") == "STARTED"}
            self._apps_until = self._clock() + self._cfg.app_cache_ttl_s
        return self._apps

    def poll_once(self) -> int:
        """Run every query once and append the samples; returns how many were appended (blocking)."""
        with self._lock:
            needs_apps = any(q.per_app for q in self._lc.queries)
            try:
                apps = self._app_names() if needs_apps else {}
            except CloudFoundryError as exc:
                self._metrics.log_cache_errors.labels("app_list").inc()
                log.warning("log cache: cannot list apps: %s", exc)
                apps = self._apps
            total = 0
            for query in self._lc.queries:
                for expr, app in self._expand(query, apps):
                    try:
                        samples = samples_from_response(self._query(expr), expr)
                    except (CloudFoundryError, ValueError) as exc:
                        reason = str(exc.status) if isinstance(exc, CFApiError) else type(exc).__name__
                        self._metrics.log_cache_errors.labels(reason).inc()
                        log.warning("log cache query %r failed: %s", expr, exc)
                        continue
                    total += self._append(samples, app, apps)
            self.polls += 1
            return total

    @staticmethod
    def _expand(query: LogCacheQuery, apps: dict[str, str]) -> list[tuple[str, str]]:
        if not query.per_app:
            return [(query.expr, "")]
        return [(query.expr.replace("{app_guid}", guid), name) for guid, name in sorted(apps.items())]

    def _query(self, expr: str) -> Json:
        call = "GET /api/v1/query"
        token = self._tokens.token()
        for attempt in range(2):
            started = time.perf_counter()
            try:
                resp = self._http.get(
                    f"{self._base}/api/v1/query",
                    params={"query": expr},
                    headers={"Authorization": f"bearer {token}", "Accept": "application/json"},
                )
            except httpx.TransportError as exc:
                reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connect_error"
                self._metrics.log_cache.attempt(call, time.perf_counter() - started, ok=False)
                raise CFUnavailableError(call, f"{reason}: {type(exc).__name__}: {exc}") from exc
            self._metrics.log_cache.attempt(call, time.perf_counter() - started, ok=resp.status_code == 200)
            if resp.status_code == 401 and attempt == 0:
                token = self._tokens.refresh(token)
                continue
            if resp.status_code != 200:
                raise api_error(call, resp)
            body = resp.json()
            return body if isinstance(body, dict) else {}
        raise CFApiError(call, "HTTP 401 with a fresh token", status=401)

    def _append(self, samples: list[Sample], app: str, apps: dict[str, str]) -> int:
        refs: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        for labels, ts_ms, value in samples:
            name = app or apps.get(labels.get("source_id", ""), "")
            key = labels_from({**labels, "app": name} if name else labels)
            ref = self._refs.get(key)
            if ref is None:
                ref = self._appender.series_ref(key)
                self._refs[key] = ref
            refs.append(ref)
            stamps.append(ts_ms)
            values.append(value)
        if refs:
            self._appender.append(refs, stamps, values)
            self._metrics.log_cache_samples.inc(len(refs))
        return len(refs)


def log_cache_sources(
    config: CloudFoundryPlatformConfig,
    appender: Appender,
    *,
    registry: CollectorRegistry = prometheus_client.REGISTRY,
) -> list[LogCacheSource]:
    """The metric sources Cloud Foundry offers: the Log Cache poller when ``platform.log_cache`` is set."""
    return [LogCacheSource(config, appender, registry=registry)] if config.log_cache is not None else []
