"""Cloud Foundry's views: the foundation overview and the app page on Log Cache's metric names.

Every metric and label name comes from :mod:`dashboard.cf_names`. The overview's KPIs are gorouter's (req/s,
5xx share, p95, 502s, route table age); its panels: cell capacity in memory *chunks* (how many more
instances of ``memory_chunk_mib`` fit: ``floor(remaining / chunk)`` summed over cells, Healthwatch's
"available memory chunks"), Diego (LRPs missing/crashed, unhealthy cells), the Cloud Controller (outstanding
requests, job queue) and BOSH VM health. Apps are keyed by GUID (an app name is unique only within its space)
and grouped by org and space; the app page's key is that GUID, its title the name from the labels.

Counters polled every 30 s are rated over 2 minutes (four points). A count that should read 0 while its
source reports is written ``count(x == 0) or 0 * count(x)``: 0, not "no data", but still "no data" when
nothing reports at all.
"""

from __future__ import annotations

from dashboard import cf_names as n
from dashboard.spec import AppChart, AppColumn, AppSpec, Figure, Listing, OverviewSpec, Panel, quote

__all__ = ["DEFAULT_MEMORY_CHUNK_MIB", "CloudFoundryViews"]

DEFAULT_MEMORY_CHUNK_MIB = 1024
_WINDOW = "2m"


def _sel(metric: str, source: str) -> str:
    return f"{metric}{{{n.SOURCE_ID}={quote(source)}}}"


def _rate(metric: str, source: str) -> str:
    return f"rate({_sel(metric, source)}[{_WINDOW}])"


_BY_APP = f"{n.APP_GUID}, {n.APP_NAME}, {n.ORG}, {n.SPACE}"
_CONTAINER = f'{n.INSTANCE_ID}!=""'  # app container series (components have no instance_id)


def _router_kpis() -> tuple[Figure, ...]:
    requests = f"sum({_rate(n.ROUTER_REQUESTS, n.GOROUTER)})"
    fives = f"sum({_rate(n.ROUTER_5XX, n.GOROUTER)})"
    return (
        Figure("rps", "Router requests/s", "req/s", requests),
        Figure("err", "Router 5xx", "%", f"100 * ({fives} or 0 * {requests}) / {requests}"),
        Figure("p95", "Router p95 latency", "s", f"max({_sel(n.ROUTER_LATENCY_P95_MS, n.GOROUTER)}) / 1000"),
        Figure(
            "bad_gateways",
            "502s (5 min)",
            "count",
            f"sum(increase({_sel(n.ROUTER_BAD_GATEWAYS, n.GOROUTER)}[5m]))",
        ),
        Figure(
            "route_age",
            "Route table age",
            "s",
            f"max({_sel(n.ROUTER_ROUTE_TABLE_AGE_MS, n.GOROUTER)}) / 1000",
        ),
    )


def _chunk_title(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"


def _capacity(chunk_mib: int) -> Panel:
    remaining = _sel(n.REP_MEMORY_REMAINING_MIB, n.REP)
    return Panel(
        "capacity",
        "Cell capacity",
        (
            Figure(
                "chunks",
                f"Free memory chunks ({_chunk_title(chunk_mib)})",
                "count",
                f"sum(floor({remaining} / {chunk_mib}))",
            ),
            Figure(
                "mem_free",
                "Memory free",
                "%",
                f"100 * sum({remaining}) / sum({_sel(n.REP_MEMORY_TOTAL_MIB, n.REP)})",
            ),
            Figure(
                "containers_free",
                "Containers free",
                "count",
                f"sum({_sel(n.REP_CONTAINERS_REMAINING, n.REP)})",
            ),
            Figure("disk_free", "Disk free", "B", f"1048576 * sum({_sel(n.REP_DISK_REMAINING_MIB, n.REP)})"),
            Figure("cells", "Cells reporting", "count", f"count({_sel(n.REP_MEMORY_TOTAL_MIB, n.REP)})"),
        ),
    )


def _zero_or_count(selector: str, test: str) -> str:
    return f"count({selector} {test}) or 0 * count({selector})"


def _diego() -> Panel:
    unhealthy = _sel(n.REP_UNHEALTHY_CELL, n.REP)
    return Panel(
        "diego",
        "Diego",
        (
            Figure("lrps_running", "LRPs running", "count", f"max({_sel(n.BBS_LRPS_RUNNING, n.BBS)})"),
            Figure("lrps_missing", "LRPs missing", "count", f"max({_sel(n.BBS_LRPS_MISSING, n.BBS)})"),
            Figure("crashed", "Crashed LRPs", "count", f"max({_sel(n.BBS_CRASHED, n.BBS)})"),
            Figure("unhealthy_cells", "Unhealthy cells", "count", _zero_or_count(unhealthy, "== 1")),
        ),
        Listing(
            "unhealthy_cells", "Unhealthy cells", f"{unhealthy} == 1", ("deployment", "job", "index"), "None."
        ),
    )


def _cloud_controller() -> Panel:
    return Panel(
        "cc",
        "Cloud Controller",
        (
            Figure(
                "outstanding",
                "Requests outstanding",
                "count",
                f"sum({_sel(n.CC_REQUESTS_OUTSTANDING, n.CC)})",
            ),
            Figure("job_queue", "Job queue", "count", f"sum({_sel(n.CC_JOB_QUEUE, n.CC)})"),
        ),
    )


def _bosh() -> Panel:
    healthy = _sel(n.BOSH_HEALTHY, n.BOSH)
    return Panel(
        "bosh",
        "BOSH VMs",
        (
            Figure("vms", "VMs reporting", "count", f"count({healthy})"),
            Figure("vms_unhealthy", "Unhealthy VMs", "count", _zero_or_count(healthy, "== 0")),
        ),
        Listing("vms_unhealthy", "Unhealthy VMs", f"{healthy} == 0", ("deployment", "job", "index"), "None."),
    )


def _app_columns() -> tuple[AppColumn, ...]:
    rps = f"sum by ({_BY_APP}) ({n.APP_REQUESTS_PER_S})"
    fives = f"sum by ({_BY_APP}) ({n.APP_5XX_PER_S})"
    containers = (
        f'label_replace({n.CONTAINER_MEMORY}{{{_CONTAINER}}}, "{n.APP_GUID}", "$1", "{n.SOURCE_ID}", "(.*)")'
    )
    return (
        AppColumn("rps", "Requests/s", "req/s", rps),
        AppColumn("err", "5xx", "%", f"100 * ({fives} or 0 * {rps}) / {rps}"),
        AppColumn("p95", "p95", "s", f"max by ({_BY_APP}) ({n.APP_LATENCY_P95_NS}) / 1e9"),
        AppColumn("instances", "Containers", "count", f"count by ({_BY_APP}) ({containers})"),
        AppColumn("memory", "Memory", "B", f"sum by ({_BY_APP}) ({containers})"),
    )


def _apps_expr() -> str:
    containers = (
        f'label_replace({n.CONTAINER_MEMORY}{{{_CONTAINER}}}, "{n.APP_GUID}", "$1", "{n.SOURCE_ID}", "(.*)")'
    )
    return f"group by ({_BY_APP}) ({n.APP_REQUESTS_PER_S}) or group by ({_BY_APP}) ({containers})"


_APP_CHARTS: tuple[AppChart, ...] = (
    AppChart(
        "rps",
        "Requests/s",
        "req/s",
        (f"sum({n.APP_REQUESTS_PER_S}{{{n.APP_GUID}=$app}})", f"sum({n.APP_5XX_PER_S}{{{n.APP_GUID}=$app}})"),
        names=("all", "5xx"),
    ),
    AppChart(
        "errors",
        "Errors (5xx) %",
        "%",
        (
            f"100 * (sum({n.APP_5XX_PER_S}{{{n.APP_GUID}=$app}}) "
            f"or 0 * sum({n.APP_REQUESTS_PER_S}{{{n.APP_GUID}=$app}})) "
            f"/ sum({n.APP_REQUESTS_PER_S}{{{n.APP_GUID}=$app}})",
        ),
        names=("5xx %",),
    ),
    AppChart(
        "latency",
        "Latency",
        "s",
        (f"max({n.APP_LATENCY_P95_NS}{{{n.APP_GUID}=$app}}) / 1e9",),
        names=("p95",),
    ),
    AppChart(
        "memory",
        "Memory per instance",
        "B",
        (
            f"{n.CONTAINER_MEMORY}{{{n.SOURCE_ID}=$app}}",
            f"max({n.CONTAINER_MEMORY_QUOTA}{{{n.SOURCE_ID}=$app}})",
        ),
        n.INSTANCE_ID,
        names=("", "quota"),
    ),
    AppChart("cpu", "CPU per instance", "%", (f"{n.CONTAINER_CPU}{{{n.SOURCE_ID}=$app}}",), n.INSTANCE_ID),
    AppChart("disk", "Disk per instance", "B", (f"{n.CONTAINER_DISK}{{{n.SOURCE_ID}=$app}}",), n.INSTANCE_ID),
    AppChart("logs", "Log lines by level", "lines", logs=("error", "warning", "info")),
)


class CloudFoundryViews:
    """:class:`dashboard.base.PlatformViews` of a Cloud Foundry foundation (metrics from Log Cache)."""

    def __init__(self, *, memory_chunk_mib: int = DEFAULT_MEMORY_CHUNK_MIB) -> None:
        if memory_chunk_mib < 1:
            raise ValueError(f"memory_chunk_mib must be at least 1, not {memory_chunk_mib}")
        self.memory_chunk_mib = memory_chunk_mib
        self._overview = OverviewSpec(
            title="Foundation overview",
            kpis=_router_kpis(),
            sparklines=("rps", "err", "p95"),
            app_key=n.APP_GUID,
            app_name=n.APP_NAME,
            app_columns=_app_columns(),
            apps_expr=_apps_expr(),
            group_by=(n.ORG, n.SPACE),
            platform_rows=False,  # rows come from the GUID-keyed series (with org/space), no CC call
            panels=(_capacity(memory_chunk_mib), _diego(), _cloud_controller(), _bosh()),
        )

    def overview(self) -> OverviewSpec:
        return self._overview

    def app(self, app: str) -> AppSpec:
        q = quote(app)
        by = f"{n.APP_NAME}, {n.ORG}, {n.SPACE}"
        return AppSpec(
            charts=_APP_CHARTS,
            instances=f"group by ({n.INSTANCE_ID}) ({n.CONTAINER_MEMORY}{{{n.SOURCE_ID}={q}}})",
            instance_label=n.INSTANCE_ID,
            instance_expr=f'{n.CONTAINER_MEMORY}{{{n.SOURCE_ID}={q},{n.INSTANCE_ID}="$index"}}',
            identity=(
                f"group by ({by}) ({n.APP_REQUESTS_PER_S}{{{n.APP_GUID}={q}}}) "
                f"or group by ({by}) ({n.CONTAINER_MEMORY}{{{n.SOURCE_ID}={q}}})"
            ),
            identity_labels=(n.APP_NAME, n.ORG, n.SPACE),
            platform_instances=False,  # instances from the container series, no CC call per page view
            alert_label=n.APP_GUID,  # alerts on the per-app KPI series carry its app_guid label
            actions_by_name=False,  # CF policies target the app GUID (app_label: app_guid)
            log_field="app_guid",  # syslog drains: app-name = the GUID (the `app` label is the name)
        )
