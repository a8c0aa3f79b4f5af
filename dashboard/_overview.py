"""The overview's model: platform KPIs with last-hour sparklines, per-app figures, instances by state,
firing alerts and recent remediation actions. A few PromQL queries; every section degrades on its own."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dashboard._queries import KPIS, NOT_APPS, PER_APP, SPARKLINES
from dashboard.base import ReaderError, Sources

__all__ = ["Overview", "build_overview", "fmt"]

log = logging.getLogger("dashboard")

SPARK_WINDOW_S = 3600.0
SPARK_STEP_S = 60.0


def fmt(value: float | None, unit: str) -> str:
    """A short human figure: ``12.3 req/s``, ``0.41 %``, ``87 ms``, ``1.2 GiB``; ``—`` for no data."""
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
    name: str
    cells: dict[str, str] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)


@dataclass
class Overview:
    kpis: list[Kpi]
    apps: list[AppRow]
    states: dict[str, int]
    alerts: list[dict[str, Any]] | None  # None: no alerting configured
    actions: list[dict[str, Any]] | None  # None: no remediation configured
    errors: list[str]
    timings_ms: dict[str, float]


def _first(samples: list[Any]) -> float | None:
    return float(samples[0].value) if samples else None


def build_overview(sources: Sources, *, clock: Callable[[], float] = time.time) -> Overview:
    errors: list[str] = []
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any], default: Any) -> Any:
        began = time.perf_counter()
        try:
            return fn()
        except ReaderError as exc:
            errors.append(f"{name}: {exc}")
            log.warning("overview %s failed: %s", name, exc)
            return default
        finally:
            timings[name] = round((time.perf_counter() - began) * 1000, 2)

    now = clock()
    # One consistent read of every metric the page shows (when the reader offers it: the server's does),
    # instead of one store read per query; the queries then evaluate in memory at ``now``.
    snapshot = getattr(sources.metrics, "snapshot", None)
    metrics = sources.metrics
    if callable(snapshot):
        exprs = [e for *_, e in KPIS] + [e for _, e in PER_APP]
        metrics = timed("snapshot", lambda: snapshot(now - SPARK_WINDOW_S, now, exprs), metrics)
    kpis = []
    for key, title, unit, expr in KPIS:
        spark, value, last = "", None, False
        if key in SPARKLINES:
            series = timed(
                f"spark:{key}",
                lambda e=expr: metrics.range(e, now - SPARK_WINDOW_S, now, SPARK_STEP_S),  # type: ignore[misc]
                [],
            )
            if series:
                spark = json.dumps([series[0].timestamps_s, [_finite(v) for v in series[0].values]])
                # A snapshot evaluates both at ``now`` and its range grid ends exactly there: the
                # sparkline's last point is the instant value, no second query.
                if metrics is not sources.metrics and series[0].timestamps_s[-1] == round(now * 1000) / 1000:
                    value, last = float(series[0].values[-1]), True
        if not last:
            value = _first(timed(f"kpi:{key}", lambda e=expr: metrics.instant(e), []))  # type: ignore[misc]
        kpis.append(Kpi(key, title, fmt(value, unit), value, spark))

    rows: dict[str, AppRow] = {}
    units = {key: unit for key, _, unit, _ in KPIS}
    for key, expr in PER_APP:
        for sample in timed(f"apps:{key}", lambda e=expr: metrics.instant(e), []):  # type: ignore[misc]
            name = sample.labels.get("app", "")
            if name:
                row = rows.setdefault(name, AppRow(name))
                row.cells[key] = f"{sample.value:.0f}" if key == "up" else fmt(sample.value, units[key])

    states: Counter[str] = Counter()
    platform = sources.platform
    platform_apps: list[str] = []
    if platform is not None:
        platform_apps = timed("platform:apps", platform.apps, [])
        for name in platform_apps:
            row = rows.setdefault(name, AppRow(name))
            for inst in timed(f"platform:{name}", lambda n=name: platform.instances(n), []):  # type: ignore[misc]
                row.states[inst.state] = row.states.get(inst.state, 0) + 1
                states[inst.state] += 1

    alerts = timed("alerts", sources.alerts.firing, []) if sources.alerts is not None else None
    actions = (
        timed("actions", lambda: sources.actions.recent(limit=10), [])  # type: ignore[union-attr]
        if sources.actions is not None
        else None
    )
    return Overview(
        kpis=kpis,
        apps=[rows[k] for k in sorted(rows) if k not in NOT_APPS or k in platform_apps],
        states=dict(sorted(states.items())),
        alerts=alerts,
        actions=actions,
        errors=errors,
        timings_ms=timings,
    )


def _finite(v: float) -> float | None:
    return None if math.isnan(v) or math.isinf(v) else v
