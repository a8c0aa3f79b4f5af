"""The dashboard's readers over the server's objects, and its router (server wiring).

``dashboard`` only reads, through the Protocols of :mod:`dashboard.base`; this module implements them over
the metrics store (a PromQL engine of its own, metrics in a private registry so they do not collide with the
query API's), the alert dispatcher, the remediation audit log (optional: None shows "not configured") and the
platform adapter (when it is :class:`~platforms.base.Remediable`; else the pages read apps from metrics).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from alerting.dispatch import Dispatcher
from alerting.slo import Slo, slo_status
from dashboard import (
    InstanceInfo,
    InstantSample,
    PlatformViews,
    RangeSeries,
    ReaderError,
    Sources,
    dashboard_router,
)
from dashboard.pages_capacity import CapacityData
from metrics_store.base import Querier, StoreError
from metrics_store.model import METRIC_NAME, Labels, Matcher, MatchOp, SeriesData, labels_get
from metrics_store.promql import Engine, metric_names, slice_series
from metrics_store.promql.errors import QueryError
from metrics_store.promql.values import Matrix, Scalar, Vector
from metrics_store.scoped import scoped
from platforms.base import Platform, PlatformError, Remediable
from platforms.capacity import CapacityError, CapacityService
from platforms.events import PlatformEventFeed
from platforms.tenancy import FOUNDATION, ORG_LABEL, SPACE_LABEL, Scope
from remediation.actions import changes_deployments
from remediation.base import AuditLog, RemediationError

__all__ = [
    "AuditActions",
    "CapacityPage",
    "DispatcherAlerts",
    "PlatformInstances",
    "PromqlMetricsReader",
    "SnapshotQuerier",
    "build_router",
    "build_sources",
]

_LAST_S = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last second a datetime holds


class PromqlMetricsReader:
    """:class:`dashboard.base.MetricsReader` over a PromQL engine on ``querier``."""

    def __init__(
        self,
        querier: Querier,
        *,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 10.0,
        engine: Engine | None = None,
    ):
        self._querier = querier
        self._engine = engine or Engine(querier, timeout_s=timeout_s, registry=CollectorRegistry())
        self._clock = clock

    def scoped(self, scope: Scope) -> PromqlMetricsReader:
        """A reader whose every store read carries ``scope``'s org/space matchers
        (:func:`metrics_store.scoped.scoped`): what a tenant's pages read (itself for the foundation)."""
        if scope.is_foundation:
            return self
        querier = scoped(self._querier, scope)
        return PromqlMetricsReader(querier, clock=self._clock, engine=self._engine.with_querier(querier))

    def snapshot(self, start_s: float, end_s: float, exprs: Sequence[str] = ()) -> PromqlMetricsReader:
        """A reader evaluating at ``end_s`` whose queries read each metric name once from the store, over
        ``[start_s - the engine's lookback, end_s]``, and share those samples (see :class:`SnapshotQuerier`):
        for a page that runs many queries over the same few metrics. The metrics of ``exprs`` (the queries the
        page will run) are read at once, in one store read."""
        window = (round(start_s * 1000) - self._engine.lookback_ms, round(end_s * 1000))
        reads = SnapshotQuerier(self._querier, *window)
        names: set[str] = set()
        for expr in exprs:
            with contextlib.suppress(QueryError):  # reported when the query runs
                names |= metric_names(expr)
        try:
            reads.read(names)
        except StoreError as exc:
            raise ReaderError(f"metrics store: {exc}") from exc
        return PromqlMetricsReader(reads, clock=lambda: end_s, engine=self._engine.with_querier(reads))

    def instant(self, expr: str) -> list[InstantSample]:
        try:
            value = self._engine.instant_query(expr, round(self._clock() * 1000))
        except QueryError as exc:
            raise ReaderError(f"{expr}: {exc}") from exc
        if isinstance(value, Vector):
            return [InstantSample(dict(s.labels), s.value) for s in value.samples]
        if isinstance(value, Scalar):
            return [InstantSample({}, value.value)]
        return []

    def range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        # The grid is anchored at the end: its last point is exactly ``end_s`` (an instant query at end_s
        # gives the same value), whatever the rounding of start_s.
        try:
            end_ms = round(end_s * 1000)
            start_ms = end_ms - round((end_s - start_s) * 1000)
            step_ms = max(1, round(step_s * 1000))
        except (OverflowError, ValueError) as exc:  # infinite or NaN milliseconds (e.g. start=-1.7e308)
            raise ReaderError(
                f"{expr}: time range out of bounds: {start_s} to {end_s} step {step_s}"
            ) from exc
        try:
            value: Matrix = self._engine.range_query(expr, start_ms, end_ms, step_ms)
        except QueryError as exc:
            raise ReaderError(f"{expr}: {exc}") from exc
        return [
            RangeSeries(dict(s.labels), [t / 1000 for t in s.timestamps_ms], list(s.values))
            for s in value.series
        ]


class SnapshotQuerier:
    """A :class:`~metrics_store.base.Querier` for one page build: the first ``select`` of a metric name reads
    all its series over ``[start_ms, end_ms]`` (widened to the request) from ``querier``; later selects of
    that name within the range are answered from those samples (matchers applied per series, samples
    sliced), so every query of the page sees the same data. Selects without a ``__name__=`` matcher, or
    outside the range, go to ``querier``. Not thread-safe: one per page build."""

    def __init__(self, querier: Querier, start_ms: int, end_ms: int) -> None:
        self._querier = querier
        self._start_ms = start_ms
        self._end_ms = end_ms
        self._read: dict[str, tuple[int, int, list[SeriesData]]] = {}
        self._sliced: dict[tuple[str, int, int], list[SeriesData]] = {}  # (name, start, end) -> series

    def read(self, names: set[str]) -> None:
        """Read all series of ``names`` over the range in one ``select`` (a regex on the name)."""
        if not names:
            return
        pattern = "|".join(re.escape(n) for n in sorted(names))
        found: dict[str, list[SeriesData]] = {n: [] for n in names}
        lo, hi = self._start_ms, self._end_ms
        for sd in self._querier.select([Matcher(METRIC_NAME, MatchOp.RE, pattern)], lo, hi):
            found.setdefault(labels_get(sd.labels, METRIC_NAME), []).append(sd)
        for name, series in found.items():
            self._read[name] = (lo, hi, series)

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        name = next((m.value for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ), None)
        if name is None:
            return self._querier.select(matchers, start_ms, end_ms)
        hit = self._read.get(name)
        if hit is None or start_ms < hit[0] or end_ms > hit[1]:
            lo, hi = min(start_ms, self._start_ms), max(end_ms, self._end_ms)
            hit = (lo, hi, self._querier.select([Matcher(METRIC_NAME, MatchOp.EQ, name)], lo, hi))
            self._read[name] = hit
        sliced = self._sliced.get((name, start_ms, end_ms))
        if sliced is None:
            sliced = self._sliced[(name, start_ms, end_ms)] = slice_series(hit[2], start_ms, end_ms)
        others = [m for m in matchers if not (m.name == METRIC_NAME and m.op is MatchOp.EQ)]
        return [sd for sd in sliced if all(m.matches_labels(sd.labels) for m in others)]

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return self._querier.series(matchers, start_ms, end_ms)


class DispatcherAlerts:
    """:class:`dashboard.base.AlertsReader` over the dispatcher (thread-safe: it takes its own lock)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    def firing(self) -> list[dict[str, Any]]:
        views = self._dispatcher.alerts()
        out = [
            {
                "labels": dict(v.alert.labels),
                "annotations": dict(v.alert.annotations),
                "starts_at": v.alert.starts_at.timestamp(),
                "state": v.status.state,
            }
            for v in views
        ]
        return sorted(out, key=lambda a: a["starts_at"])


class AuditActions:
    """:class:`dashboard.base.ActionsReader` over the remediation audit log, as ``scope`` sees it (the scope
    is part of the audit query, so ``limit`` counts only what the scope sees)."""

    def __init__(self, audit: AuditLog, scope: Scope = FOUNDATION) -> None:
        self._audit = audit
        self._scope = scope

    def scoped(self, scope: Scope) -> AuditActions:
        return AuditActions(self._audit, scope)

    def recent(
        self, *, app: str | None = None, since_s: float | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        since = None
        if since_s is not None and since_s > 0:  # before 1970 (a timeline's start=-1e308): every record
            if since_s >= _LAST_S:
                return []  # after Python's calendar ends: no record yet (fromtimestamp would raise)
            since = datetime.fromtimestamp(since_s, UTC)
        try:
            records = self._audit.query(app=app, since=since, limit=limit, scope=self._scope)
        except RemediationError as exc:
            raise ReaderError(f"audit log: {exc}") from exc
        return [
            {
                **_predictive_summary(r.request.trigger),
                "id": r.request.id,
                "action": r.request.action,
                "deployment": changes_deployments(r.request.action),
                "target": str(r.request.target),
                "app": r.request.target.app,
                "status": r.status,
                "policy": r.request.policy,
                "mode": r.request.mode,
                "created_at": r.request.created_at.timestamp(),
                "updated_at": r.updated_at.timestamp(),
                # the tenant the remediation engine recorded (the platform's word, never the alert's labels,
                # which an alert sender chooses); "" for an action of the foundation
                ORG_LABEL: r.request.org or "",
                SPACE_LABEL: r.request.space or "",
            }
            for r in records
        ]


_PREDICTIVE_KEYS = ("basis", "forecast", "horizon_s", "actual", "instances", "reactive")


def _predictive_summary(trigger: dict[str, Any]) -> dict[str, Any]:
    """``{"predictive": ...}``: why a predictive scale was asked (the figures the timeline shows), else {}."""
    why = trigger.get("predictive")
    if not isinstance(why, dict):
        return {}
    return {"predictive": {k: why.get(k) for k in _PREDICTIVE_KEYS}}


class PlatformInstances:
    """:class:`dashboard.base.PlatformReader` over a Remediable platform, cached for ``ttl_s`` so a page
    view costs at most one platform call per app."""

    def __init__(
        self, platform: Remediable, *, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ):
        self._platform = platform
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        try:
            value = fetch()
        except PlatformError as exc:
            raise ReaderError(f"platform {self._platform.name}: {exc}") from exc
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def apps(self) -> list[str]:
        return sorted(self._cached("apps", self._platform.apps))

    def instances(self, app: str) -> list[InstanceInfo]:
        found = self._cached("app:" + app, lambda: self._platform.app_instances(app))
        return [
            InstanceInfo(i.app, i.index, i.state, i.revision, dict(i.details))
            for i in sorted(found, key=lambda i: i.index)
        ]


class PlatformEventsTimeline:
    """:class:`dashboard.base.PlatformEventsReader` over a :class:`platforms.events.PlatformEventFeed`
    (bounded, one app only, cached briefly, a note instead of an error)."""

    def __init__(self, feed: PlatformEventFeed, *, limit: int = 200) -> None:
        self._feed = feed
        self._limit = limit

    def events(self, app: str, start_s: float, end_s: float) -> tuple[list[dict[str, Any]], str]:
        answer = self._feed.fetch(app, start_s, end_s, self._limit)
        found = [{"t": e.time, "kind": e.kind, "summary": e.summary, "actor": e.actor} for e in answer.events]
        return found, answer.note


class SloStatuses:
    """:class:`dashboard.base.SloReader` over the loaded SLOs (``slos`` follows reloads) and the store,
    through :func:`alerting.slo.slo_status` (tenant-scoped queries)."""

    def __init__(
        self,
        slos: Callable[[], Sequence[Slo]],
        store: Querier,
        scope: Scope = FOUNDATION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._slos, self._store, self._scope, self._clock = slos, store, scope, clock

    def scoped(self, scope: Scope) -> SloStatuses:
        return SloStatuses(self._slos, self._store, scope, self._clock)

    def for_app(self, app: str, tenant: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        mine = [s for s in self._slos() if s.app == app and (tenant is None or (s.org, s.space) == tenant)]
        return [s.to_json() for s in slo_status(self._store, mine, self._scope, None, self._clock())]


class CapacityPage:
    """The Capacity page's data (:data:`dashboard.pages_capacity.CapacityData`) from a
    :class:`~platforms.capacity.CapacityService`; a failed store read becomes :class:`ReaderError`."""

    def __init__(self, service: CapacityService) -> None:
        self.service = service

    def __call__(self) -> Mapping[str, Any]:
        try:
            return self.service.outlook_json()
        except CapacityError as exc:
            raise ReaderError(f"capacity: {exc}") from exc


def build_sources(
    store: Querier,
    *,
    dispatcher: Dispatcher | None,
    platform: Platform | None,
    audit: AuditLog | None = None,
    platform_events: PlatformEventFeed | None = None,
    slos: Callable[[], Sequence[Slo]] | None = None,
) -> Sources:
    """The dashboard's readers over the server's objects (the pages' and the scheduled reports')."""
    return Sources(
        metrics=PromqlMetricsReader(store),
        alerts=DispatcherAlerts(dispatcher) if dispatcher is not None else None,
        actions=AuditActions(audit) if audit is not None else None,
        platform=PlatformInstances(platform) if isinstance(platform, Remediable) else None,
        platform_events=PlatformEventsTimeline(platform_events) if platform_events is not None else None,
        slos=SloStatuses(slos, store) if slos is not None else None,
    )


def build_router(  # noqa: PLR0913 - the server's objects the pages read, keyword-only
    store: Querier,
    *,
    dispatcher: Dispatcher | None,
    platform: Platform | None,
    audit: AuditLog | None = None,
    platform_events: PlatformEventFeed | None = None,
    log_search: bool = False,
    base_path: str = "",
    views: PlatformViews | None = None,
    slos: Callable[[], Sequence[Slo]] | None = None,
    capacity: CapacityData | None = None,
) -> APIRouter:
    """The dashboard's router over the server's objects (see the module docstring), drawn with ``views``
    (the configured platform type's, :func:`dashboard.views.views_for`; default: the local platform's);
    ``capacity`` feeds the Capacity page (:class:`CapacityPage` of the server's capacity service)."""
    sources = build_sources(
        store,
        dispatcher=dispatcher,
        platform=platform,
        audit=audit,
        platform_events=platform_events,
        slos=slos,
    )
    return dashboard_router(
        sources, base_path=base_path, log_search=log_search, views=views, capacity=capacity
    )
