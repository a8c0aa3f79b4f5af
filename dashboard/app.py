"""The dashboard's pages: one APIRouter the wiring mounts (and can wrap with a login dependency).

Routes, relative to ``base_path``: ``/`` (overview), ``/apps`` and ``/apps/{app}`` (app timeline),
``/apps/{app}/events.json`` (timeline markers), ``/explore`` and ``/static/{file}`` (served by the router
itself, so ``app.include_router`` is all the wiring does). Charts fetch their data from the server's
Prometheus HTTP API under ``api_base`` (``/api/v1/query_range``, ...), and from the log search API.
Every response carries :func:`dashboard.security.security_headers`; every page shows the logged-in user
and the logout form (:func:`dashboard.auth_pages.session_context`, base.html.j2's user block).

Tenancy: every handler reads through :meth:`DashboardPages.sources_for` (the sources of
``scope_of(request)``, :mod:`dashboard.scoping`). A scoped principal's overview redirects to its apps (the
foundation overview is foundation-wide only); an app it does not cover answers 404 (page and
``events.json``), never 403, so another tenant's app is not confirmed to exist.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard._overview import build_overview, fmt
from dashboard.auth_pages import session_context
from dashboard.base import InstanceInfo, PlatformViews, ReaderError, Sources
from dashboard.pages_alerts import add_alert_pages
from dashboard.pages_capacity import CapacityData, add_capacity_pages
from dashboard.pages_logs import add_log_pages
from dashboard.pages_remediation import add_remediation_pages
from dashboard.scoping import scoped_sources
from dashboard.security import SecureRoute
from dashboard.spec import AppSpec, quote
from dashboard.views_local import LocalViews
from platforms.tenancy import ORG_LABEL, SPACE_LABEL, Scope, scope_of

__all__ = ["RANGES", "STATIC_DIR", "TEMPLATES_DIR", "DashboardPages", "dashboard_router"]

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
_STATIC_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    "": "text/plain",
}
_MAX_REFINED = 50  # alert episodes per events request whose exact firing time is looked up
# The exact firing time is looked up with a 1 s step over one coarse step: only while that is at most this
# many points (a 1,000-hour window or less), well under the engine's 11,000 points per series.
_MAX_REFINE_POINTS = 3600


def _environment(base_path: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["url"] = lambda path="": base_path + "/" + path.lstrip("/")
    env.filters["fmt"] = fmt
    env.filters["ago"] = _ago
    env.filters["tojson_attr"] = lambda v: json.dumps(v, separators=(",", ":"))  # autoescaped in attributes
    return env


def _ago(ts: float | None) -> str:
    if not ts:
        return ""
    s = max(0, int(time.time() - ts))
    return f"{s}s ago" if s < 120 else f"{s // 60}m ago" if s < 7200 else f"{s // 3600}h ago"


class DashboardPages:
    """The page handlers of :func:`dashboard_router` over ``sources``; each public method is one route (the
    factory only wires paths to them), so a test can render a page by calling it. ``page`` renders a
    template with the common context (the alert, remediation and log pages use it too)."""

    def __init__(
        self,
        sources: Sources,
        *,
        base_path: str = "",
        api_base: str = "",
        log_search: bool = False,
        clock: Callable[[], float] = time.time,
        views: PlatformViews | None = None,
    ) -> None:
        self.sources = sources
        self.views: PlatformViews = views or LocalViews()
        self.api_base = api_base
        self.log_search = log_search
        self.clock = clock
        self.base_path = base_path.rstrip("/")
        self.env = _environment(self.base_path)
        self.static_files = {
            p.relative_to(STATIC_DIR).as_posix(): p for p in STATIC_DIR.rglob("*") if p.is_file()
        }

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("api_base", self.api_base)
        return HTMLResponse(self.env.get_template(template).render(**context), status_code=status)

    def sources_for(self, request: Request) -> tuple[Sources, Scope]:
        """The sources the request's principal may read (:func:`dashboard.scoping.scoped_sources` of
        ``scope_of(request)``) and that scope."""
        scope = scope_of(request)
        return scoped_sources(self.sources, scope), scope

    def app_names(self, sources: Sources | None = None) -> list[tuple[str, str]]:
        """The apps as (key, display name): from the platform adapter when the views key apps the way it
        names them, else from the metrics (the views' ``apps_expr``), read through ``sources`` (default: the
        foundation's)."""
        sources, spec = sources or self.sources, self.views.overview()
        if sources.platform is not None and spec.platform_rows:
            try:
                return [(a, a) for a in sources.platform.apps()]
            except ReaderError:
                pass
        try:
            found = sources.metrics.instant(spec.apps_expr)
        except ReaderError:
            return []
        apps: dict[str, str] = {}
        for s in found:
            key = s.labels.get(spec.app_key, "")
            if key:
                apps[key] = _display(s.labels, spec.app_name, spec.group_by) or key
        return sorted(apps.items(), key=lambda kv: (kv[1], kv[0]))

    def covers(self, sources: Sources, scope: Scope, app: str) -> bool:
        """Whether the app keyed ``app`` is the scope's: always for the foundation (an unknown app shows
        an empty page, as before tenancy), else only an app its scoped sources list."""
        return scope.is_foundation or app in dict(self.app_names(sources))

    def not_found(self, request: Request, what: str) -> HTMLResponse:
        return self.page("not_found.html.j2", 404, nav="", what=what, **session_context(request))

    def overview(self, request: Request) -> Response:
        """The foundation overview (router, cells, controller KPIs; every app, alert and action): only for a
        foundation-wide principal; a scoped one is sent to its apps."""
        if not scope_of(request).is_foundation:
            return RedirectResponse(self.base_path + "/apps", status_code=303)
        began = time.perf_counter()
        model = build_overview(self.sources, views=self.views, clock=self.clock)
        response = self.page("overview.html.j2", nav="overview", o=model, **session_context(request))
        response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - began) * 1000:.1f}"
        return response

    def apps(self, request: Request) -> HTMLResponse:
        sources, _ = self.sources_for(request)
        return self.page("apps.html.j2", nav="apps", apps=self.app_names(sources), **session_context(request))

    def app_page(self, request: Request, app: str, range: str = "1h") -> HTMLResponse:
        sources, scope = self.sources_for(request)
        if not self.covers(sources, scope, app):
            return self.not_found(request, "app")  # 404, not 403: another tenant's app is not confirmed
        window = RANGES.get(range, 3600)
        spec = self.views.app(app)
        instances, error = _instances(sources, app, spec)
        heading, where, tenant = _identity(sources, spec)
        slos, slos_error = _slos(sources, heading or app, tenant)
        log_search = self.log_search
        charts = [
            {
                "key": c.key,
                "title": c.title,
                "unit": c.unit,
                "queries": c.queries(app),
                "legend": c.legend,
                "names": list(c.names),
                "logs": [f"{spec.log_field}:{_log_term(app)} AND level:{lv}" for lv in c.logs]
                if log_search
                else [],
                "note": "Log search is not configured." if c.logs and not log_search else "",
                "logNames": list(c.logs),
            }
            for c in spec.charts
        ]
        return self.page(
            "app.html.j2",
            nav="apps",
            app=app,
            heading=heading,
            where=where,
            range=range if range in RANGES else "1h",
            ranges=list(RANGES),
            window_s=window,
            charts=charts,
            instances=instances,
            instances_error=error,
            slos=slos,
            slos_error=slos_error,
            slos_configured=sources.slos is not None,
            instance_expr=spec.instance_expr,
            log_field=spec.log_field,
            quote=quote,
            **session_context(request),
        )

    def app_events(self, request: Request, app: str, start: float, end: float) -> JSONResponse:
        sources, scope = self.sources_for(request)
        if not self.covers(sources, scope, app):
            return JSONResponse({"error": "not found"}, status_code=404)
        spec = self.views.app(app)
        actions_app = (_identity(sources, spec)[0] or app) if spec.actions_by_name else app
        events = _events(sources, app, start, end, spec.alert_label, actions_app)
        platform, note = _platform_events(sources, app, start, end)
        body: dict[str, Any] = {"events": sorted([*events, *platform], key=lambda e: e["t"])}
        if note:
            body["notes"] = [note]
        return JSONResponse(body)

    def explore(
        self, request: Request, expr: str = "", range: str = "1h", tab: str = "chart"
    ) -> HTMLResponse:
        return self.page(
            "explore.html.j2",
            nav="explore",
            expr=expr,
            range=range if range in RANGES else "1h",
            ranges=list(RANGES),
            tab="table" if tab == "table" else "chart",
            **session_context(request),
        )

    def static(self, path: str, request: Request) -> Response:
        file = self.static_files.get(path)
        if file is None:
            return Response("not found\n", status_code=404, media_type="text/plain")
        media = _STATIC_TYPES.get(file.suffix, "application/octet-stream")
        return FileResponse(file, media_type=media, headers={"Cache-Control": "public, max-age=300"})


def dashboard_router(
    sources: Sources,
    *,
    base_path: str = "",
    api_base: str = "",
    log_search: bool = False,
    clock: Callable[[], float] = time.time,
    views: PlatformViews | None = None,
    capacity: CapacityData | None = None,
) -> APIRouter:
    """The pages over ``sources``, drawn with the queries of ``views`` (default: the local platform's, see
    :func:`dashboard.views.views_for`). ``base_path`` (no trailing slash, e.g. ``/ui``) prefixes every page
    route; ``api_base`` is where the server's query and log APIs are mounted (``""``: at the root);
    ``log_search``: the server serves ``/api/v1/logs/histogram`` (the app page's log volume chart);
    ``capacity``: the cells' capacity outlook as JSON data (the Capacity page; None: "not configured")."""
    pages = DashboardPages(
        sources, base_path=base_path, api_base=api_base, log_search=log_search, clock=clock, views=views
    )
    router = APIRouter(prefix=base_path.rstrip("/"), route_class=SecureRoute, include_in_schema=False)
    router.add_api_route("/", pages.overview, methods=["GET"], name="dashboard_overview")
    router.add_api_route("/apps", pages.apps, methods=["GET"], name="dashboard_apps")
    router.add_api_route("/apps/{app}", pages.app_page, methods=["GET"], name="dashboard_app")
    router.add_api_route(
        "/apps/{app}/events.json", pages.app_events, methods=["GET"], name="dashboard_app_events"
    )
    router.add_api_route("/explore", pages.explore, methods=["GET"], name="dashboard_explore")
    router.add_api_route("/static/{path:path}", pages.static, methods=["GET"], name="dashboard_static")
    add_alert_pages(router, pages.page)
    add_remediation_pages(router, pages.page)
    add_log_pages(router, pages.page, ranges=RANGES, log_search=log_search)
    add_capacity_pages(router, pages.page, capacity)
    return router


def _log_term(app: str) -> str:
    return '"' + app.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _display(labels: dict[str, str], name: str, group: tuple[str, ...]) -> str:
    """``name (org / space)`` from the labels; "" without a name label."""
    shown = labels.get(name, "") if name else ""
    where = " / ".join(labels.get(g, "") for g in group if labels.get(g))
    return f"{shown} ({where})" if shown and where else shown


def _slos(sources: Sources, app: str, tenant: tuple[str, str] | None) -> tuple[list[dict[str, Any]], str]:
    """The app's SLOs with their error budgets (empty without SLO files), or an error to show; ``tenant``
    (org, space) narrows them to that space's app of the name (on CF the same name lives in many spaces)."""
    if sources.slos is None:
        return [], ""
    try:
        return sources.slos.for_app(app, tenant), ""
    except ReaderError as exc:
        return [], f"SLOs unavailable: {exc}"


def _identity(sources: Sources, spec: AppSpec) -> tuple[str, str, tuple[str, str] | None]:
    """The app's display name and where it lives (e.g. ``acme / prod``), from the labels of
    ``spec.identity``'s first sample (first of ``identity_labels``, then the rest); ("", "") when the key is
    the name or nothing answers; and its (org, space) when its labels say (None otherwise)."""
    if not spec.identity or not spec.identity_labels:
        return "", "", None
    try:
        found = sources.metrics.instant(spec.identity)
    except ReaderError:
        return "", "", None
    if not found:
        return "", "", None
    labels = found[0].labels
    name, *rest = spec.identity_labels
    org, space = labels.get(ORG_LABEL, ""), labels.get(SPACE_LABEL, "")
    tenant = (org, space) if org and space else None
    return labels.get(name, ""), " / ".join(labels[k] for k in rest if labels.get(k)), tenant


def _instances(sources: Sources, app: str, spec: AppSpec) -> tuple[list[InstanceInfo], str]:
    if sources.platform is not None and spec.platform_instances:
        try:
            return sources.platform.instances(app), ""
        except ReaderError as exc:
            return [], str(exc)
    try:  # no platform adapter (or none that knows this key): what the metrics say
        found = sources.metrics.instant(spec.instances)
    except ReaderError as exc:
        return [], str(exc)
    label = spec.instance_label
    out = [
        InstanceInfo(app, int(s.labels.get(label, "0") or 0), "RUNNING" if s.value == 1 else "DOWN")
        for s in found
        if (s.labels.get(label, "0") or "0").isdigit()
    ]
    return sorted(out, key=lambda i: i.index), ""


def _events(
    sources: Sources, app: str, start: float, end: float, alert_label: str = "app", actions_app: str = ""
) -> list[dict[str, Any]]:
    """Markers for the timeline: alerts turning firing (from ``ALERTS``), remediation actions and
    deployments (actions ``rollback``/``blue_green``), ascending by time. ``alert_label``: the ``ALERTS``
    label holding ``app``; ``actions_app``: the app as remediation actions name it ("": ``app``).

    An alert's firing episodes are found on a coarse grid (>= 15 s, 1,000 points at most, up to a step
    late); each marker is then put at the alert's exact firing time, the timestamp of the episode's first
    ``ALERTS`` sample (the rule evaluation that turned it firing: ``active_at`` + ``for`` rounded up to an
    evaluation, the alert's ``starts_at``), so a remediation action taken on the alert is never drawn before
    it. That lookup reads one coarse step at 1 s resolution, so it is made only for the first
    ``_MAX_REFINED`` episodes and only while a coarse step is at most ``_MAX_REFINE_POINTS`` s; past that
    (a window over 1,000 hours, e.g. ``start=0&end=1e11``) markers stay at their coarse time, and every
    query of the request stays a small one."""
    out: list[dict[str, Any]] = []
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        return out
    step = max(15.0, (end - start) / 1000)
    try:
        series = sources.metrics.range(
            f'ALERTS{{{alert_label}={quote(app)},alertstate="firing"}}', start, end, step
        )
    except ReaderError:
        series = []
    refined = 0
    for s in series:
        prev: float | None = None
        for t in s.timestamps_s:
            if prev is None or t - prev > step * 1.5:
                text = s.labels.get("alertname", "alert")
                if s.labels.get("app_instance"):
                    text += f" (instance {s.labels['app_instance']})"
                exact = None
                if refined < _MAX_REFINED and step <= _MAX_REFINE_POINTS:
                    refined += 1
                    exact = _fired_at(sources, s.labels, max(start, t - step), t)
                out.append(
                    {"t": t if exact is None else exact, "kind": "alert", "source": "paramedic", "text": text}
                )
            prev = t
    if sources.actions is not None:
        try:
            actions = sources.actions.recent(app=actions_app or app, since_s=start, limit=200)
        except ReaderError:
            actions = []
        for a in actions:
            t = float(a.get("created_at") or 0)
            if start <= t <= end:
                kind = "deployment" if a.get("deployment") else "action"
                text = f"{a.get('action', '')} {a.get('target', '')}: {a.get('status', '')}"
                text += _predictive_text(a.get("predictive"))
                out.append({"t": t, "kind": kind, "source": "paramedic", "text": text})
    out.sort(key=lambda e: e["t"])
    return out


def _predictive_text(why: object) -> str:
    """`` (predictive, hybrid: forecast 7.73 for 30s ahead, 4.4 now; 2 instances, reactive 1)`` for an
    action a predictive policy asked (the marker shows it scaled ahead of the load), else ""."""
    if not isinstance(why, dict):
        return ""

    def num(key: str) -> str:
        v = why.get(key)
        return f"{v:.3g}" if isinstance(v, int | float) else "?"

    ahead = (
        "no forecast yet"
        if why.get("forecast") is None
        else f"forecast {num('forecast')} for {num('horizon_s')}s ahead"
    )
    return (
        f" (predictive, {why.get('basis', '?')}: {ahead}, {num('actual')} now; "
        f"{why.get('instances', '?')} instances, reactive {why.get('reactive', '?')})"
    )


def _platform_events(
    sources: Sources, app: str, start: float, end: float
) -> tuple[list[dict[str, Any]], str]:
    """Markers of the platform's own events of ``app`` (kind ``platform``, ``type`` the platform's kind:
    push, crash, ...) and the reader's note; nothing without a reader or a sane window."""
    if sources.platform_events is None or not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        return [], ""
    found, note = sources.platform_events.events(app, start, end)
    markers = [
        {
            "t": float(e["t"]),
            "kind": "platform",
            "source": "platform",
            "type": str(e.get("kind", "")),
            "text": f"{e.get('kind', '')}: {e.get('summary', '')}"
            + (f" (by {e['actor']})" if e.get("actor") else ""),
        }
        for e in found
        if start <= float(e.get("t", -1)) <= end
    ]
    return markers, note


def _fired_at(sources: Sources, labels: dict[str, str], lo: float, hi: float) -> float | None:
    """The timestamp of the first firing ``ALERTS`` sample of the alert ``labels`` in ``(lo, hi]``, where
    the coarse grid saw it start firing (it was not firing at ``lo``): ``timestamp()`` of the samples seen
    every second, whose first value is that sample's own time. None when it cannot be read."""
    matchers = ",".join(f"{k}={quote(v)}" for k, v in sorted(labels.items()) if k != "__name__")
    try:
        found = sources.metrics.range(f"timestamp(ALERTS{{{matchers}}})", lo, hi, 1.0)
    except ReaderError:
        return None
    firsts = [s.values[0] for s in found if s.values and math.isfinite(s.values[0])]
    return min(firsts) if firsts and lo - 1 <= min(firsts) <= hi else None
