"""The "why" of an alert: :class:`QueryExplainer` implements :class:`alerting.base.Explainer`.

Where the expression comes from (first found wins):

1. the annotation ``__expr__`` (Paramedic's rule engine can set it; any PromQL expression);
2. the ``g0.expr`` query parameter of the alert's ``generatorURL`` (what Prometheus puts there).

When the expression is a comparison with a number (``<vector> > 0.05``, no ``bool``), the chart shows the
left-hand side over time and the number becomes the threshold: the filtered expression would only show the
points above it. The annotations ``value`` and ``threshold`` (floats) take precedence over derived values.

The window is ``[startsAt - before_s, min(now, startsAt + after_s)]`` at about ``points`` steps. Series whose
labels disagree with the alert's on a shared label are dropped (unless none agree); at most ``max_series``.
Log patterns come from any object with ``list_patterns(app, limit)`` (e.g.
:class:`log_pipeline.patterns.PatternStats`), for the alert's ``app`` label: the most frequent ones, plus the
ones first seen inside the window (``new: True``). Events (deployments, remediation actions) come from an
:class:`EventSource`; the platform's own events of the app (push, crash, restart, scale, deployment) from a
:class:`PlatformEventReader` (e.g. :class:`platforms.events.PlatformEventFeed`), looked up by the alert's
``app_guid`` label (the app key on Cloud Foundry), else ``app``: listed with the other events (``source:
platform``) and summed up for the window before the alert (``platform_summary``, e.g. "2 crashes of
instance 1 in the last 10 min"); unreadable, they leave a ``platform_note``. Every part is best effort: a
failing source is logged and left empty, so explaining never blocks a notification. Sources are synchronous
and are called in a worker thread.

Tenancy: an alert's expression and labels are its sender's choice (a scoped operator may post alerts of its
spaces, with any annotations and ``generatorURL``), and the explanation goes to the alert's receivers. So for
an alert with an ``org`` label (a tenant's), the chart queries run over the store scoped to that org/space
(:func:`metrics_store.scoped.scoped`; an engine that cannot be scoped charts nothing), and the platform
events of its app are listed only when the platform puts that app in the alert's org/space (a reader
without ``tenant_of`` lists none). The foundation's alerts are explained over everything, as before.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

import promql_parser
from prometheus_client import CollectorRegistry

from alerting.base import Explanation
from alerting.model import Alert
from metrics_store.base import Querier
from metrics_store.model import METRIC_NAME
from metrics_store.promql import Engine, Matrix, QueryError, parse, unmask
from metrics_store.scoped import scoped
from platforms.tenancy import FOUNDATION, ORG_LABEL, SPACE_LABEL, Grant, Scope

__all__ = [
    "EXPR_ANNOTATION",
    "EventSource",
    "ExplainWindow",
    "PatternSource",
    "PlatformEventReader",
    "QueryExplainer",
    "RangeQueryEngine",
    "alert_expr",
]

log = logging.getLogger(__name__)

EXPR_ANNOTATION = "__expr__"
_COMPARISONS = {">", ">=", "<", "<=", "==", "!="}


class RangeQueryEngine(Protocol):
    """What the explainer needs of :class:`metrics_store.promql.Engine`."""

    def range_query(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> Matrix: ...


def _alert_scope(labels: Mapping[str, str]) -> Scope:
    """The tenant of an alert's app (its org/space labels), so that the patterns of a same-named app of
    another space never show in its email; an alert without an org is the foundation's."""
    org = labels.get(ORG_LABEL)
    if not org:
        return FOUNDATION
    return Scope.of([Grant(org, labels.get(SPACE_LABEL) or None, "viewer")])


class PatternSource(Protocol):
    """Log patterns per app, most frequent first (items with ``template``, ``count``, ``first_seen_ns``,
    ``sample`` as attributes or keys)."""

    def list_patterns(
        self, app: str | None = None, limit: int = 100, *, scope: Scope = FOUNDATION
    ) -> Sequence[Any]: ...


class EventSource(Protocol):
    """Recent deployments and remediation actions of an app, newest first. Each event is a mapping with at
    least ``kind`` ("deployment", "remediation", ...), ``time`` (datetime) and ``summary``."""

    def recent_events(
        self, app: str, start: datetime, end: datetime, limit: int
    ) -> Sequence[Mapping[str, Any]]: ...


class PlatformEventReader(EventSource, Protocol):
    """The platform's events of an app: listed (``recent_events``, newest first, ``source: "platform"``) and
    summed up in a few lines for ``[since, until]`` (unix s) with a note when unavailable (``summary``).
    Never raises for a platform failure."""

    def summary(self, app: str, since: float, until: float) -> tuple[list[str], str]: ...


def alert_expr(alert: Alert) -> str | None:
    """The alert's PromQL expression: annotation ``__expr__``, else ``generatorURL``'s ``g0.expr``."""
    expr = alert.annotations.get(EXPR_ANNOTATION, "").strip()
    if expr:
        return expr
    if alert.generator_url:
        values = parse_qs(urlsplit(alert.generator_url).query).get("g0.expr")
        if values and values[0].strip():
            return values[0].strip()
    return None


def _split_comparison(expr: str) -> tuple[str, float | None]:
    """``(expression to chart, threshold)``: the vector side of ``vector OP number`` and the number."""
    try:
        node = parse(expr)  # from an alert's annotations or generatorURL: maybe hostile (guarded parse)
    except (ValueError, TypeError, QueryError) as exc:  # promql_parser raises ValueError on syntax errors
        log.debug("explain: cannot parse %r: %s", expr, exc)
        return expr, None
    if not isinstance(node, promql_parser.BinaryExpr) or str(node.op) not in _COMPARISONS:
        return expr, None
    if node.modifier is not None and getattr(node.modifier, "return_bool", False):
        return expr, None
    if isinstance(node.rhs, promql_parser.NumberLiteral) and not isinstance(
        node.lhs, promql_parser.NumberLiteral
    ):
        return unmask(str(node.lhs)), float(node.rhs.val)
    if isinstance(node.lhs, promql_parser.NumberLiteral) and not isinstance(
        node.rhs, promql_parser.NumberLiteral
    ):
        return unmask(str(node.rhs)), float(node.lhs.val)
    return expr, None


def _float(s: str | None) -> float | None:
    if s is None:
        return None
    try:
        f = float(s.strip())
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


@dataclass(frozen=True, slots=True)
class ExplainWindow:
    """What an explanation covers: the chart from ``before_s`` before the alert started to ``after_s`` after
    (or now), in ``points`` points, and at most this many series, log patterns and events."""

    before_s: float = 1800.0
    after_s: float = 600.0
    points: int = 180
    max_series: int = 5
    max_patterns: int = 5
    max_events: int = 10


DEFAULT_WINDOW = ExplainWindow()


class QueryExplainer:
    """Explains alerts from a metrics store (``source``: an :class:`Engine` or a bare :class:`Querier`)."""

    def __init__(
        self,
        source: RangeQueryEngine | Querier,
        *,
        patterns: PatternSource | None = None,
        events: EventSource | None = None,
        platform_events: PlatformEventReader | None = None,
        dashboard_url: str = "",
        clock: Callable[[], float] = time.time,
        window: ExplainWindow = DEFAULT_WINDOW,
    ) -> None:
        # A bare Querier (a store) gets its own Engine, with its metrics in a private registry.
        self._engine: RangeQueryEngine = (
            Engine(source, registry=CollectorRegistry()) if isinstance(source, Querier) else source
        )
        self._patterns = patterns
        self._events = events
        self._platform_events = platform_events
        self._dashboard = dashboard_url.rstrip("/")
        self._clock = clock
        self._before_s, self._after_s, self._points = window.before_s, window.after_s, max(window.points, 2)
        self._max_series, self._max_patterns = window.max_series, window.max_patterns
        self._max_events = window.max_events

    async def explain(self, alert: Alert) -> Explanation:
        return await asyncio.to_thread(self.explain_sync, alert)

    def explain_sync(self, alert: Alert) -> Explanation:
        now = datetime.fromtimestamp(self._clock(), UTC)
        starts = alert.starts_at or now
        if starts.tzinfo is None:
            starts = starts.replace(tzinfo=UTC)
        start = starts - timedelta(seconds=self._before_s)
        end = min(now, starts + timedelta(seconds=self._after_s))
        if end <= starts:
            end = starts + timedelta(seconds=max(self._before_s / self._points, 1.0))
        out = Explanation()
        threshold = _float(alert.annotations.get("threshold"))
        expr = alert_expr(alert)
        if expr is not None:
            chart_expr, derived = _split_comparison(expr)
            threshold = threshold if threshold is not None else derived
            engine = self._engine_for(_alert_scope(alert.labels))
            out.series = self._series(engine, chart_expr, alert.labels, start, end)
        value = _float(alert.annotations.get("value"))
        if value is None and expr is not None:
            value = self._value_at_start(engine, chart_expr, alert.labels, starts)
        if value is None and out.series:
            value = _value_at(out.series[0][1], starts.timestamp())
        if value is not None:
            out.values["value"] = value
        if threshold is not None:
            out.values["threshold"] = threshold
        app = alert.labels.get("app", "")
        if app:
            out.log_patterns = self._log_patterns(app, _alert_scope(alert.labels), start, end)
            out.events = self._recent_events(app, start, end)
        app_key = alert.labels.get("app_guid") or app
        reader = self._platform_events
        if app_key and reader is not None and _events_visible(reader, app_key, _alert_scope(alert.labels)):
            self._add_platform_events(reader, out, app_key, (start, starts, end))
        out.links = self._links(alert, app)
        return out

    def _engine_for(self, scope: Scope) -> RangeQueryEngine | None:
        """The engine an alert of ``scope`` is charted with: the store scoped to its org/space (None when
        the engine cannot be scoped: nothing is charted rather than everything)."""
        if scope.is_foundation:
            return self._engine
        if isinstance(self._engine, Engine):
            return self._engine.with_querier(scoped(self._engine.querier, scope))
        return None

    def _series(
        self,
        engine: RangeQueryEngine | None,
        expr: str,
        alert_labels: Mapping[str, str],
        start: datetime,
        end: datetime,
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        if engine is None:
            return []
        start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        step_ms = max(1000, (end_ms - start_ms) // (self._points - 1))
        try:
            matrix = engine.range_query(expr, start_ms, end_ms, step_ms)
        except QueryError as exc:
            log.warning("explain: query %r failed: %s", expr, exc)
            return []
        series = [
            (dict(s.labels), [(t / 1000.0, v) for t, v in zip(s.timestamps_ms, s.values, strict=True)])
            for s in matrix.series
        ]
        agreeing = [
            s
            for s in series
            if all(alert_labels[k] == v for k, v in s[0].items() if k != METRIC_NAME and k in alert_labels)
        ]
        return (agreeing or series)[: self._max_series]

    def _value_at_start(
        self, engine: RangeQueryEngine | None, expr: str, alert_labels: Mapping[str, str], starts: datetime
    ) -> float | None:
        """The charted expression evaluated exactly at the firing time (the chart's grid is too coarse: its
        point before ``startsAt`` can predate the change that fired the alert)."""
        if engine is None:
            return None
        t_ms = int(starts.timestamp() * 1000)
        try:
            matrix = engine.range_query(expr, t_ms, t_ms, 1000)
        except QueryError as exc:
            log.debug("explain: value query %r failed: %s", expr, exc)
            return None
        points = [(dict(s.labels), v) for s in matrix.series for v in s.values[-1:] if math.isfinite(v)]
        agreeing = [
            v
            for labels, v in points
            if all(
                alert_labels[k] == lv for k, lv in labels.items() if k != METRIC_NAME and k in alert_labels
            )
        ]
        return agreeing[0] if agreeing else None

    def _log_patterns(self, app: str, scope: Scope, start: datetime, end: datetime) -> list[dict[str, Any]]:
        if self._patterns is None:
            return []
        try:
            items = list(self._patterns.list_patterns(app, 200, scope=scope))
        except Exception as exc:  # a best-effort source of any kind; logged, never fatal
            log.warning("explain: log patterns of %s unavailable: %s", app, exc)
            return []
        lo, hi = int(start.timestamp() * 1e9), int(end.timestamp() * 1e9)
        out: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            first = int(_field(item, "first_seen_ns", 0) or 0)
            new = lo <= first <= hi
            if i >= self._max_patterns and not new:
                continue
            out.append(
                {
                    "template": str(_field(item, "template", "")),
                    "count": int(_field(item, "count", 0) or 0),
                    "first_seen": datetime.fromtimestamp(first / 1e9, UTC) if first else None,
                    "sample": str(_field(item, "sample", "")),
                    "new": new,
                }
            )
            if len(out) >= 2 * self._max_patterns:
                break
        return out

    def _recent_events(self, app: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        if self._events is None:
            return []
        try:
            return [dict(e) for e in self._events.recent_events(app, start, end, self._max_events)]
        except Exception as exc:  # a best-effort source of any kind; logged, never fatal
            log.warning("explain: events of %s unavailable: %s", app, exc)
            return []

    def _add_platform_events(
        self,
        reader: PlatformEventReader,
        out: Explanation,
        app: str,
        window: tuple[datetime, datetime, datetime],
    ) -> None:
        """The platform's events of ``app``: summed up from the window's start to the alert's
        (``window``: start, the alert's start, end), listed with the other events."""
        start, starts, end = window
        try:
            out.platform_summary, out.platform_note = reader.summary(
                app, start.timestamp(), starts.timestamp()
            )
            found = reader.recent_events(app, start, end, self._max_events)
        except Exception as exc:  # a best-effort source of any kind; logged, never fatal
            log.warning("explain: platform events of %s unavailable: %s", app, exc)
            out.platform_note = f"platform events unavailable: {type(exc).__name__}"
            return
        listed = [dict(e) for e in found if e.get("kind") != "note"]
        merged = sorted([*out.events, *listed], key=lambda e: _when(e.get("time")), reverse=True)
        out.events = merged[: max(self._max_events, len(out.events))]

    def _links(self, alert: Alert, app: str) -> dict[str, str]:
        links: dict[str, str] = {}
        if self._dashboard:
            links["Dashboard"] = f"{self._dashboard}/apps/{quote(app, safe='')}" if app else self._dashboard
        if alert.generator_url:
            links["Source"] = alert.generator_url
        runbook = alert.annotations.get("runbook_url", "")
        if runbook:
            links["Runbook"] = runbook
        return links


def _events_visible(reader: object, app: str, scope: Scope) -> bool:
    """Whether an alert of ``scope`` may list the platform events of ``app``: always for the foundation's;
    for a tenant's, only when the reader's ``tenant_of`` puts the app inside the scope."""
    if scope.is_foundation:
        return True
    tenant_of = getattr(reader, "tenant_of", None)
    if not callable(tenant_of):
        return False
    try:
        found = tenant_of(app)
    except Exception as exc:  # a best-effort source of any kind; logged, never fatal
        log.warning("explain: tenant of %s unavailable: %s", app, exc)
        return False
    return isinstance(found, tuple) and len(found) == 2 and scope.sees(found[0], found[1])


def _when(t: object) -> float:
    if isinstance(t, datetime):
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    return float(t) if isinstance(t, int | float) else 0.0


def _value_at(points: Sequence[tuple[float, float]], t: float) -> float | None:
    """The last finite value at or before ``t`` (else the first after it)."""
    before = [v for ts, v in points if ts <= t and math.isfinite(v)]
    if before:
        return before[-1]
    after = [v for ts, v in points if math.isfinite(v)]
    return after[0] if after else None
