"""``LogCacheSource``: poll Cloud Foundry's Log Cache for metrics and append them to the metrics store.

Every ``log_cache.interval_s`` the source runs each configured query against Log Cache's PromQL-compatible
endpoint ``GET {log_cache.url}/api/v1/query?query=<expr>`` (Prometheus HTTP API JSON, ``vector``/``matrix``/
``scalar`` results) with the UAA client-credentials token of the platform config (the client needs
``logs.admin`` or ``doppler.firehose``). Queries with ``per_app: true`` run once per STARTED app with
``{app_guid}`` replaced by the app's GUID, which is its Log Cache ``source_id``; e.g.
``cpu{source_id="{app_guid}"}`` gives one series per instance (label ``instance_id``). Every sample is
appended with the result's labels, ``__name__`` (from the result, else the selector's metric name) and
``app`` = the app's name (per-app queries, or any result whose ``source_id`` is a known app GUID).

Queries (``log_cache.queries``; absent = DERIVED from the rule packs ``log_cache.packs`` by
:func:`platforms.cloudfoundry.log_cache_queries.derive_queries`) may be NAMED: the result of an aggregation
Log Cache evaluates over every point it holds (``quantile_over_time(0.95, latency{source_id="gorouter"}
[1m])``) is stored under ``name`` with its labels kept; per-app results get ``source_id`` = the GUID when
they have none. Backfill: when a query's instant query succeeds on its first poll (start, restart) or more
than 1.5 intervals after its previous success (failed polls), the gap - at most ``log_cache.backfill_s``
back - is filled from ``GET /api/v1/query_range`` with step = ``interval_s``, so ``for:`` windows and
``rate()`` have history; no range query is sent while the instant query itself fails.
An answer with more than ``max_samples_per_query`` samples is refused (a stranger's server could send any).

Self-metrics: ``paramedic_cf_log_cache_queries_total{kind, outcome}``,
``paramedic_cf_log_cache_backfilled_samples_total``, ``paramedic_cf_log_cache_polled_queries``,
``paramedic_cf_log_cache_samples_total`` and ``paramedic_cf_log_cache_errors_total{reason}``.

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
from dataclasses import dataclass
from typing import Any

import httpx
import prometheus_client
from prometheus_client import CollectorRegistry

from metrics_store.base import Appender
from metrics_store.model import labels_from
from platforms.cloudfoundry._client import CCClient, Json, UAATokens, api_error
from platforms.cloudfoundry._inventory import dig, text
from platforms.cloudfoundry._log_cache_metrics import log_cache_metrics
from platforms.cloudfoundry._metrics import cf_metrics
from platforms.cloudfoundry.errors import CFApiError, CFUnavailableError, CloudFoundryError
from platforms.cloudfoundry.log_cache_queries import derive_queries
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


def _series_samples(series: Any, kind: str, name: str, out: list[Sample], limit: int) -> None:
    if not isinstance(series, dict):
        return
    labels = {str(k): str(v) for k, v in _obj(series.get("metric")).items()}
    if name:
        labels["__name__"] = name
    pairs = [series.get("value")] if kind == "vector" else (series.get("values") or [])
    for pair in pairs if isinstance(pairs, list) else []:
        v = _value(pair)
        if v is not None:
            if len(out) >= limit:
                raise ValueError(f"more than {limit} samples in one answer")
            out.append((labels, *v))


def samples_from_response(
    body: Json, expr: str, name: str | None = None, limit: int = 200_000
) -> list[Sample]:
    """(labels, timestamp_ms, value) of every sample in a Prometheus API query response. ``__name__`` is
    ``name`` when given, else the result's, else the selector's metric name; more than ``limit`` samples
    raise ``ValueError``."""
    if body.get("status") != "success":
        raise ValueError(f"status {body.get('status')!r}: {body.get('error', '')}")
    data = _obj(body.get("data"))
    kind, result = data.get("resultType"), data.get("result")
    m = _SELECTOR_NAME.match(expr)
    default_name = name or (m.group(1) if m else "")
    out: list[Sample] = []
    if kind == "scalar":
        v = _value(result)
        if v is not None and default_name:
            out.append(({"__name__": default_name}, *v))
        return out
    if kind not in ("vector", "matrix") or not isinstance(result, list):
        raise ValueError(f"unsupported resultType {kind!r}")
    for series in result:
        _series_samples(series, str(kind), name or "", out, limit)
    if default_name and not name:
        for labels, _, _ in out:
            labels.setdefault("__name__", default_name)
    return out


def _app_labels(apps: list[Json], included: dict[str, list[Json]]) -> dict[str, dict[str, str]]:
    """guid -> the labels every per-app series gets: ``app``, ``app_guid``, ``space``, ``org`` (names from
    the listing's ``included`` spaces and organizations; empty when CC did not include them)."""
    spaces = {str(s.get("guid")): s for s in included.get("spaces", [])}
    orgs = {str(o.get("guid")): str(o.get("name", "")) for o in included.get("organizations", [])}
    out: dict[str, dict[str, str]] = {}
    for app in apps:
        guid = str(app["guid"])
        space_guid = text(dig(app, "relationships", "space", "data", "guid"))
        space = spaces.get(space_guid, {})
        org_guid = text(dig(space, "relationships", "organization", "data", "guid"))
        labels = {"app": str(app.get("name", "")), "app_guid": guid}
        if space:
            labels["space"] = str(space.get("name", ""))
        if org_guid in orgs:
            labels["org"] = orgs[org_guid]
        out[guid] = labels
    return out


@dataclass(frozen=True)
class _Run:
    """One query as run this poll: the expression (``{app_guid}`` substituted), the name to store it under,
    and the app it belongs to (name, GUID) for per-app queries."""

    expr: str
    name: str | None
    app: str = ""
    guid: str = ""


class LogCacheSource:
    """Polls Log Cache for the configured (or derived) queries and appends the samples to ``appender``."""

    def __init__(
        self,
        config: CloudFoundryPlatformConfig,
        appender: Appender,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if config.log_cache is None:
            raise CloudFoundryError("LogCacheSource", "platform.log_cache is not configured")
        self._cfg = config
        self._lc = config.log_cache
        self.queries: list[LogCacheQuery] = (
            list(self._lc.queries) if self._lc.queries is not None else derive_queries(self._lc.pack_paths())
        )
        self._base = str(self._lc.url).rstrip("/")
        self._appender = appender
        self._clock = clock
        self._wall = wall
        self._metrics = cf_metrics(registry)
        self._poller = log_cache_metrics(registry)
        self._poller.configured.set(len(self.queries))
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
        self._app_meta: dict[str, dict[str, str]] = {}  # guid -> app, app_guid, space, org labels
        self._apps_until = 0.0
        self._refs: dict[tuple[tuple[str, str], ...], int] = {}
        self._last_ok: dict[str, float] = {}  # expr -> wall time of its last successful instant query
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
            apps, included = self._cc.list_with_included(
                "/v3/apps", "/v3/apps", {"include": "space.organization"}
            )
            started = [a for a in apps if a.get("state") == "STARTED"]
            self._apps = {str(a["guid"]): str(a.get("name", "")) for a in started}
            self._app_meta = _app_labels(started, included)
            self._apps_until = self._clock() + self._cfg.app_cache_ttl_s
        return self._apps

    def poll_once(self) -> int:
        """Run every query once (backfilling gaps first) and append the samples; returns how many were
        appended (blocking)."""
        with self._lock:
            apps: dict[str, str] = {}
            if any(q.per_app for q in self.queries):
                try:
                    apps = self._app_names()
                except CloudFoundryError as exc:
                    self._metrics.log_cache_errors.labels("app_list").inc()
                    log.warning("log cache: cannot list apps: %s", exc)
                    apps = self._apps
            total = 0
            for query in self.queries:
                for run in self._expand(query, apps):
                    total += self._poll_run(run, apps)
            self.polls += 1
            return total

    @staticmethod
    def _expand(query: LogCacheQuery, apps: dict[str, str]) -> list[_Run]:
        if not query.per_app:
            return [_Run(query.expr, query.name)]
        return [
            _Run(query.expr.replace("{app_guid}", guid), query.name, name, guid)
            for guid, name in sorted(apps.items())
        ]

    def _fetch(self, kind: str, run: _Run, params: dict[str, str]) -> list[Sample] | None:
        path = "/api/v1/query" if kind == "instant" else "/api/v1/query_range"
        try:
            body = self._get(path, {"query": run.expr, **params})
            samples = samples_from_response(body, run.expr, run.name, self._lc.max_samples_per_query)
        except (CloudFoundryError, ValueError) as exc:
            reason = str(exc.status) if isinstance(exc, CFApiError) else type(exc).__name__
            self._metrics.log_cache_errors.labels(reason).inc()
            self._poller.queries.labels(kind, "error").inc()
            log.warning("log cache %s query %r failed: %s", kind, run.expr, exc)
            return None
        self._poller.queries.labels(kind, "ok").inc()
        return samples

    def _poll_run(self, run: _Run, apps: dict[str, str]) -> int:
        """The instant query of ``run``, then - only when Log Cache answered it (no range query to a Log
        Cache that fails anyway) - the backfill of the gap since its previous good poll."""
        now = self._wall()
        previous = self._last_ok.get(run.expr)
        samples = self._fetch("instant", run, {"time": f"{now:.3f}"})
        if samples is None:
            return 0
        self._last_ok[run.expr] = now
        return self._append(samples, run, apps) + self._backfill(run, previous, now, apps)

    def _backfill(self, run: _Run, last: float | None, now: float, apps: dict[str, str]) -> int:
        """Fill the gap since ``last``, the previous good poll of ``run`` (all of ``backfill_s`` if none)."""
        window, step = self._lc.backfill_s, self._lc.interval_s
        if window <= 0 or (last is not None and now - last <= 1.5 * step):
            return 0
        # From the first step after the last good poll (whose instant query covered it) to the step before
        # the instant query of this poll.
        start = now - window if last is None else max(now - window, last + step)
        end = now - step
        if end <= start:
            return 0
        params = {"start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}s"}
        samples = self._fetch("range", run, params)
        if samples is None:
            return 0
        appended = self._append(samples, run, apps)
        self._poller.backfilled.inc(appended)
        return appended

    def _get(self, path: str, params: dict[str, str]) -> Json:
        call = f"GET {path}"
        token = self._tokens.token()
        for attempt in range(2):
            started = time.perf_counter()
            try:
                resp = self._http.get(
                    f"{self._base}{path}",
                    params=params,
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

    def _append(self, samples: list[Sample], run: _Run, apps: dict[str, str]) -> int:
        refs: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        for labels, ts_ms, value in samples:
            extra = {"source_id": run.guid} if run.guid and "source_id" not in labels else {}
            guid = run.guid or labels.get("source_id", "")
            name = run.app or apps.get(guid, "")
            if name:
                extra["app"] = name
                extra.update(self._app_meta.get(guid, {}))
            key = labels_from({**labels, **extra})
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
