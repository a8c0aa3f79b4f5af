"""Top apps by errors and by latency over the window: the overview's per-app columns of the platform's views
(``err``: 5xx share of router responses in %, ``p95``: p95 latency in seconds, ``rps``: requests/s; the views
hold the metric names of each platform type) as range queries, averaged per app over the window. Read through
the scoped metrics reader: a tenant ranks only its own apps."""

from __future__ import annotations

import math
from collections.abc import Callable

from dashboard.base import RangeSeries
from dashboard.reports._fmt import number, percent, seconds_text
from dashboard.reports.base import Chart, ReportContext, SectionResult, Table
from dashboard.spec import OverviewSpec

__all__ = ["AppStats", "TopAppsSection", "app_averages", "app_series"]

_TREND_APPS = 5  # apps drawn in the 5xx trend chart
AppStats = dict[str, dict[str, float]]  # app display -> column key -> mean over the window


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")


def _display(labels: dict[str, str], spec: OverviewSpec) -> str:
    name = labels.get(spec.app_name or spec.app_key, "") or labels.get(spec.app_key, "")
    tenant = "/".join(labels.get(g, "") for g in spec.group_by if labels.get(g))
    return f"{tenant} · {name}" if tenant else name


def app_series(
    ctx: ReportContext, keys: tuple[str, ...] = ("rps", "err", "p95")
) -> dict[str, dict[str, RangeSeries]]:
    """Column key -> app display name -> its series over the window."""
    spec = ctx.views.overview()
    out: dict[str, dict[str, RangeSeries]] = {}
    for column in spec.app_columns:
        if column.key not in keys:
            continue
        found: list[RangeSeries] = ctx.sources.metrics.range(column.expr, ctx.start_s, ctx.end_s, ctx.step_s)
        for s in found:
            name = _display(s.labels, spec)
            if name and name not in spec.not_apps:
                out.setdefault(column.key, {})[name] = s
    return out


def app_averages(series: dict[str, dict[str, RangeSeries]]) -> AppStats:
    """App display name -> column key -> mean over the window."""
    out: AppStats = {}
    for key, by_app in series.items():
        for name, s in by_app.items():
            out.setdefault(name, {})[key] = _mean(s.values)
    return out


def _ranked(stats: AppStats, key: str, n: int) -> list[tuple[str, float]]:
    found = [(app, v[key]) for app, v in stats.items() if math.isfinite(v.get(key, math.nan))]
    return sorted(found, key=lambda kv: (-kv[1], kv[0]))[:n]


class TopAppsSection:
    key = "top_apps"
    title = "Top apps by errors and latency"

    def build(self, ctx: ReportContext) -> SectionResult:
        series = app_series(ctx)
        stats = app_averages(series)
        by_err = [kv for kv in _ranked(stats, "err", ctx.top_n) if kv[1] > 0]
        by_p95 = _ranked(stats, "p95", ctx.top_n)
        trend = [
            (app, series["err"][app].timestamps_s, series["err"][app].values)
            for app, _ in by_err[:_TREND_APPS]
        ]

        def row(app: str, first: Callable[[float], str], key: str) -> tuple[str, ...]:
            v = stats[app]
            return (
                app,
                first(v.get(key, math.nan)),
                number(v.get("rps", math.nan)),
                percent(v.get("err", math.nan)) if key != "err" else seconds_text(v.get("p95", math.nan)),
            )

        charts = []
        if by_err:
            charts.append(Chart("top_errors", "5xx share by app (mean, %)", "%", bars=by_err))
            charts.append(Chart("errors_trend", "5xx share over time (%)", "%", lines=trend))
        if by_p95:
            charts.append(
                Chart(
                    "top_latency",
                    "p95 latency by app (mean, ms)",
                    "ms",
                    bars=[(a, v * 1000) for a, v in by_p95],
                )
            )
        return SectionResult(
            self.key,
            self.title,
            figures=[("Apps with traffic", str(sum(1 for v in stats.values() if v.get("rps", 0) > 0)))],
            tables=[
                Table(
                    "By 5xx share",
                    ("App", "5xx", "Requests/s", "p95"),
                    [row(a, percent, "err") for a, _ in by_err],
                    "No app answered 5xx.",
                ),
                Table(
                    "By p95 latency",
                    ("App", "p95", "Requests/s", "5xx"),
                    [row(a, seconds_text, "p95") for a, _ in by_p95],
                    "No latency measured.",
                ),
            ],
            charts=charts,
        )
