"""The local platform's views: HAProxy router, node-exporter cells, apps scraped as ``job="app"``.

These are the queries the dashboard always ran (moved here from ``dashboard/_queries.py``, unchanged). App
names are quoted with :func:`~dashboard.spec.quote` before they go into a label matcher, so a name can never
change the shape of a query. A 5xx share is ``(5xx or 0 * all) / all``: 0 % (not "no data") while there are
requests but no 5xx series yet (an app that never answered a 5xx has none).
"""

from __future__ import annotations

from dashboard.spec import AppChart, AppColumn, AppSpec, Figure, OverviewSpec, quote

__all__ = ["APP_CHARTS", "KPIS", "NOT_APPS", "PER_APP", "SPARKLINES", "LocalViews", "quote"]

_RATE = "rate(haproxy_backend_http_responses_total[1m])"
_RATE_5XX = 'rate(haproxy_backend_http_responses_total{code="5xx"}[1m])'
_LAT = "rate(http_request_duration_seconds_bucket[1m])"
_APP_LAT = "rate(http_request_duration_seconds_bucket{app=$app}[1m])"


# Overview KPIs: (key, title, unit, expr). Each is a single scalar-like vector.
KPIS: tuple[tuple[str, str, str, str], ...] = (
    ("rps", "Router requests/s", "req/s", f"sum({_RATE})"),
    (
        "err",
        "5xx",
        "%",
        f"100 * (sum({_RATE_5XX}) or 0 * sum({_RATE})) / sum({_RATE})",
    ),
    ("p95", "p95 latency", "s", f"histogram_quantile(0.95, sum by (le) ({_LAT}))"),
    ("cpu", "Cell CPU used", "%", '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m])))'),
    (
        "mem",
        "Cell memory used",
        "%",
        "100 * (1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes))",
    ),
)

# Sparklines of the last hour for the first three KPIs.
SPARKLINES = ("rps", "err", "p95")

# HAProxy proxies whose series the router relabeling gives an ``app`` label but that are no app: the local
# router's catch-all backend for unknown hosts (``no_route``, see platforms/local/haproxy_config.py) and a
# ``stats`` proxy (``listen stats``). The overview lists no row for them unless the platform names such an
# app.
NOT_APPS = frozenset({"no_route", "stats"})

# Per-app columns of the overview table: (key, expr grouped by app).
PER_APP: tuple[tuple[str, str], ...] = (
    ("rps", f"sum by (app) ({_RATE})"),
    (
        "err",
        f"100 * (sum by (app) ({_RATE_5XX}) or 0 * sum by (app) ({_RATE})) / sum by (app) ({_RATE})",
    ),
    ("p95", f"histogram_quantile(0.95, sum by (app, le) ({_LAT}))"),
    ("up", 'sum by (app) (up{job="app"})'),
)


APP_CHARTS: tuple[AppChart, ...] = (
    AppChart(
        "rps",
        "Requests/s by status",
        "req/s",
        ("sum by (code) (rate(http_requests_total{app=$app}[1m]))",),
        "code",
    ),
    AppChart(
        "errors",
        "Errors (5xx) %",
        "%",
        (
            '100 * (sum(rate(http_requests_total{app=$app,code=~"5.."}[1m])) '
            "or 0 * sum(rate(http_requests_total{app=$app}[1m]))) "
            "/ sum(rate(http_requests_total{app=$app}[1m]))",
        ),
        names=("5xx %",),
    ),
    AppChart(
        "latency",
        "Latency",
        "s",
        # One query for both quantiles: the engine reads the buckets once for the two (a selector repeated
        # within a query is answered from the first read), instead of once per quantile query.
        (
            f"label_replace(histogram_quantile(0.5, sum by (le) ({_APP_LAT})), "
            '"quantile", "p50", "", "") '
            f"or label_replace(histogram_quantile(0.95, sum by (le) ({_APP_LAT})), "
            '"quantile", "p95", "", "")',
        ),
        "quantile",
    ),
    AppChart(
        "memory", "Memory per instance", "B", ("process_resident_memory_bytes{app=$app}",), "app_instance"
    ),
    AppChart(
        "cpu", "CPU per instance", "cores", ("rate(process_cpu_seconds_total{app=$app}[1m])",), "app_instance"
    ),
    AppChart("logs", "Log lines by level", "lines", logs=("error", "warning", "info")),
)


# The app table's column titles and units (the local overview's table header, as it always was).
_COLUMNS = {"rps": ("Requests/s", "req/s"), "err": ("5xx", "%"), "p95": ("p95", "s"), "up": ("Up", "count")}


class LocalViews:
    """:class:`dashboard.base.PlatformViews` of the local platform (also used without any platform)."""

    def __init__(self) -> None:
        self._overview = OverviewSpec(
            title="Platform overview",
            kpis=tuple(Figure(*k) for k in KPIS),
            sparklines=SPARKLINES,
            app_key="app",
            app_columns=tuple(AppColumn(key, *_COLUMNS[key], expr) for key, expr in PER_APP),
            apps_expr='count by (app) (up{job="app"})',
            not_apps=NOT_APPS,
        )

    def overview(self) -> OverviewSpec:
        return self._overview

    def app(self, app: str) -> AppSpec:
        q = quote(app)
        return AppSpec(
            charts=APP_CHARTS,
            instances=f'up{{job="app",app={q}}}',
            instance_label="app_instance",
            instance_expr=f'process_resident_memory_bytes{{app={q},app_instance="$index"}}',
        )
