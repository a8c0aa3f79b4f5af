"""The overview's model: platform KPIs with last-hour sparklines, per-app figures, instances by state,
foundation panels, firing alerts and recent remediation actions. The queries come from the platform's views
(:class:`dashboard.base.PlatformViews`); every section degrades on its own."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dashboard.base import PlatformViews, ReaderError, Sources
from dashboard.spec import Figure, OverviewSpec, Panel
from dashboard.views_local import LocalViews

__all__ = ["AppRow", "Kpi", "Overview", "PanelView", "build_overview", "fmt"]

log = logging.getLogger("dashboard")

SPARK_WINDOW_S = 3600.0
SPARK_STEP_S = 60.0


def fmt(value: float | None, unit: str) -> str:
    """A short human figure: ``12.3 req/s``, ``0.41 %``, ``87 ms``, ``1.2 GiB``, ``7`` (unit ``count``);
    ``—`` for no data."""
    if value is None or math.isnan(value):
        return "—"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "B":
        for suffix, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if value >= scale:
                return f"{value / scale:.1f} {suffix}"
        return f"{value:.0f} B"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


@dataclass
class Kpi:
    key: str
    title: str
    text: str
    value: float | None
    spark: str = ""  # JSON [[t...], [v...]] for the sparkline, "" for none


@dataclass
class AppRow:
    name: str  # the app's key: its page is /apps/{name}
    cells: dict[str, str] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    label: str = ""  # the display name ("" when it is the key)
    group: tuple[str, ...] = ()  # e.g. (org, space)


@dataclass
class PanelView:
    key: str
    title: str
    figures: list[Kpi]
    listing_title: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] | None = None  # None: the panel has no listing
    empty: str = ""


@dataclass
class Overview:
    kpis: list[Kpi]
    apps: list[AppRow]
    states: dict[str, int] | None  # None: the views take no instance states from the platform
    alerts: list[dict[str, Any]] | None  # None: no alerting configured
    actions: list[dict[str, Any]] | None  # None: no remediation configured
    errors: list[str]
    timings_ms: dict[str, float]
    title: str = "Platform overview"
    columns: list[tuple[str, str]] = field(default_factory=list)  # the app table's (key, title)
    grouped: bool = False  # rows carry a group (shown as section rows)
    panels: list[PanelView] = field(default_factory=list)
    app_key: str = "app"  # the label of an alert that names an app page


def _first(samples: list[Any]) -> float | None:
    return float(samples[0].value) if samples else None


class _Timed:
    """Runs one read of the page: its time goes into ``timings``, a ReaderError into ``errors`` (and the
    section shows ``default``)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.timings: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[[], Any], default: Any) -> Any:
        began = time.perf_counter()
        try:
            return fn()
        except ReaderError as exc:
            self.errors.append(f"{name}: {exc}")
            log.warning("overview %s failed: %s", name, exc)
            return default
        finally:
            self.timings[name] = round((time.perf_counter() - began) * 1000, 2)


def build_overview(
    sources: Sources, *, views: PlatformViews | None = None, clock: Callable[[], float] = time.time
) -> Overview:
    """The overview over ``sources`` with the queries of ``views`` (default: the local platform's)."""
    spec = (views or LocalViews()).overview()
    timed = _Timed()
    now = clock()
    # One consistent read of every metric the page shows (when the reader offers it: the server's does),
    # instead of one store read per query; the queries then evaluate in memory at ``now``.
    snapshot = getattr(sources.metrics, "snapshot", None)
    metrics = sources.metrics
    if callable(snapshot):
        exprs = spec.exprs()
        metrics = timed("snapshot", lambda: snapshot(now - SPARK_WINDOW_S, now, exprs), metrics)
    kpis = [_kpi(timed, metrics, metrics is not sources.metrics, spec, f, now) for f in spec.kpis]
    rows = _app_rows(timed, metrics, spec)
    states: Counter[str] | None = None
    platform_apps: list[str] = []
    if spec.platform_rows:
        states = Counter()
        platform_apps = _platform_rows(timed, sources, rows, states)

    alerts = timed("alerts", sources.alerts.firing, []) if sources.alerts is not None else None
    actions = (
        timed("actions", lambda: sources.actions.recent(limit=10), [])  # type: ignore[union-attr]
        if sources.actions is not None
        else None
    )
    listed = [r for k, r in rows.items() if k not in spec.not_apps or k in platform_apps]
    return Overview(
        kpis=kpis,
        apps=sorted(listed, key=lambda r: (r.group, r.label or r.name, r.name)),
        states=dict(sorted(states.items())) if states is not None else None,
        alerts=alerts,
        actions=actions,
        errors=timed.errors,
        timings_ms=timed.timings,
        title=spec.title,
        columns=[(c.key, c.title) for c in spec.app_columns],
        grouped=bool(spec.group_by),
        panels=[_panel(timed, metrics, p) for p in spec.panels],
        app_key=spec.app_key,
    )


def _kpi(timed: _Timed, metrics: Any, snapped: bool, spec: OverviewSpec, f: Figure, now: float) -> Kpi:
    spark, value, last = "", None, False
    if f.key in spec.sparklines:
        series = timed(
            f"spark:{f.key}", lambda: metrics.range(f.expr, now - SPARK_WINDOW_S, now, SPARK_STEP_S), []
        )
        if series:
            spark = json.dumps([series[0].timestamps_s, [_finite(v) for v in series[0].values]])
            # A snapshot evaluates both at ``now`` and its range grid ends exactly there: the
            # sparkline's last point is the instant value, no second query.
            if snapped and series[0].timestamps_s[-1] == round(now * 1000) / 1000:
                value, last = float(series[0].values[-1]), True
    if not last:
        value = _first(timed(f"kpi:{f.key}", lambda: metrics.instant(f.expr), []))
    return Kpi(f.key, f.title, fmt(value, f.unit), value, spark)


def _app_rows(timed: _Timed, metrics: Any, spec: OverviewSpec) -> dict[str, AppRow]:
    rows: dict[str, AppRow] = {}
    for col in spec.app_columns:
        for sample in timed(f"apps:{col.key}", lambda e=col.expr: metrics.instant(e), []):  # type: ignore[misc]
            key = sample.labels.get(spec.app_key, "")
            if not key:
                continue
            row = rows.get(key)
            if row is None:
                group = tuple(sample.labels.get(g, "") for g in spec.group_by)
                label = sample.labels.get(spec.app_name, "") if spec.app_name else ""
                row = rows[key] = AppRow(key, label=label, group=group)
            row.cells[col.key] = fmt(sample.value, col.unit)
    return rows


def _platform_rows(
    timed: _Timed, sources: Sources, rows: dict[str, AppRow], states: Counter[str]
) -> list[str]:
    platform = sources.platform
    if platform is None:
        return []
    names: list[str] = timed("platform:apps", platform.apps, [])
    for name in names:
        row = rows.setdefault(name, AppRow(name))
        for inst in timed(f"platform:{name}", lambda n=name: platform.instances(n), []):  # type: ignore[misc]
            row.states[inst.state] = row.states.get(inst.state, 0) + 1
            states[inst.state] += 1
    return names


def _panel(timed: _Timed, metrics: Any, panel: Panel) -> PanelView:
    figures = []
    for f in panel.figures:
        value = _first(timed(f"{panel.key}:{f.key}", lambda e=f.expr: metrics.instant(e), []))  # type: ignore[misc]
        figures.append(Kpi(f.key, f.title, fmt(value, f.unit), value))
    view = PanelView(panel.key, panel.title, figures)
    listing = panel.listing
    if listing is not None:
        found = timed(f"{panel.key}:{listing.key}", lambda: metrics.instant(listing.expr), [])
        view.listing_title, view.columns, view.empty = listing.title, list(listing.columns), listing.empty
        view.rows = sorted([s.labels.get(c, "") for c in listing.columns] for s in found)[: listing.max_rows]
    return view


def _finite(v: float) -> float | None:
    return None if math.isnan(v) or math.isinf(v) else v
