"""HTTP: ``GET /api/v1/reports/render`` (one report now, HTML or PDF), ``GET /reports`` (the preview page
of the web UI: a period picker and the report in a sandboxed frame) and ``POST /api/v1/reports/send`` (admin:
mail one schedule's reports now).

Tenancy: a report is built with the request's scope (``scope_of(request)``); ``tenant=ORG[/SPACE]`` narrows
it to a tenant the principal covers (a foundation principal: any; otherwise the tenant must lie inside one
of its grants), ``tenant=foundation`` needs the foundation scope. Anything else answers 404, as for any
object outside the scope. Limits: ``since`` at most ``max_period_s``; at most ``max_concurrent`` builds at
once and one per principal's scope (429 beyond, with Retry-After), so one tenant rendering in a loop cannot
take every slot from the others.

The rendered HTML has no script; its responses carry a CSP of their own (inline style and ``data:`` images
only, framed by the same origin only), not the dashboard's (which forbids inline style).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from dashboard.app import TEMPLATES_DIR
from dashboard.auth_pages import session_context
from dashboard.reports._fmt import parse_since
from dashboard.reports.config import FOUNDATION_TENANT, tenant_scope
from dashboard.reports.render import render_html, render_pdf
from dashboard.reports.scheduler import ReportScheduler
from dashboard.reports.service import Reporter
from dashboard.security import SecureRoute
from platforms.fair_slots import FairSlots
from platforms.tenancy import Scope, TenancyError, scope_of

__all__ = ["REPORT_CSP", "narrowed_scope", "reports_router"]

REPORT_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; "
    "form-action 'none'"
)
PERIODS = ("1d", "7d", "30d")
_HEADERS = {
    "Content-Security-Policy": REPORT_CSP,
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def narrowed_scope(scope: Scope, tenant: str | None) -> Scope | None:
    """The scope of a report of ``tenant`` asked by a principal of ``scope`` (None: not the principal's)."""
    if not tenant:
        return scope
    try:
        wanted = tenant_scope(tenant)
    except TenancyError:
        return None
    if scope.is_foundation:
        return wanted
    if tenant == FOUNDATION_TENANT or wanted.grants is None or scope.grants is None:
        return None
    covered = all(
        any(g.org == w.org and (g.space is None or g.space == w.space) for g in scope.grants)
        for w in wanted.grants
    )
    return wanted if covered else None


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"status": "error", "error": message}, status_code=status, headers=headers)


class _ReportPages:
    def __init__(
        self, reporter: Reporter, *, max_period_s: float, max_concurrent: int, base_path: str
    ) -> None:
        self.reporter = reporter
        self.max_period_s = max_period_s
        self._slots = FairSlots(max_concurrent)
        self.base_path = base_path
        self.env = Environment(
            loader=ChoiceLoader(
                [FileSystemLoader(Path(__file__).parent / "templates"), FileSystemLoader(TEMPLATES_DIR)]
            ),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["url"] = lambda path="": base_path + "/" + path.lstrip("/")

    def render(
        self,
        request: Request,
        since: str = Query("7d", max_length=12),
        format: str = Query("html", pattern="^(html|pdf)$"),
        tenant: str | None = Query(None, max_length=512),
    ) -> Response:
        try:
            period_s = parse_since(since, max_s=self.max_period_s)
        except ValueError as exc:
            return _error(400, f"since: {exc}")
        requester = scope_of(request)
        scope = narrowed_scope(requester, tenant)
        if scope is None:
            return _error(404, "no such tenant")
        if not self._slots.acquire(requester):
            return _error(429, "too many reports are being built; retry shortly", **{"Retry-After": "5"})
        try:
            report = self.reporter.build(scope, period_s)
            if format == "pdf":
                headers = {**_HEADERS, "Content-Disposition": 'attachment; filename="paramedic-report.pdf"'}
                return Response(render_pdf(report), media_type="application/pdf", headers=headers)
            return HTMLResponse(render_html(report, images="data"), headers=_HEADERS)
        finally:
            self._slots.release(requester)

    def preview(self, request: Request, since: str = Query("7d", max_length=12)) -> HTMLResponse:
        if since not in PERIODS:
            since = "7d"
        page = self.env.get_template("preview.html.j2").render(
            nav="reports", api_base="", since=since, periods=PERIODS, **session_context(request)
        )
        return HTMLResponse(page)


class _SendNow:
    """``POST /api/v1/reports/send?schedule=NAME`` (admin, by the route table): send that schedule's reports
    now, as its cron job would; answers how many were sent. 503 without ``reports:``, 404 for an unknown
    schedule, 409 while a send is running."""

    def __init__(self, scheduler: ReportScheduler | None) -> None:
        self.scheduler = scheduler
        self._busy = asyncio.Lock()

    async def send(self, schedule: str = Query(..., max_length=64)) -> JSONResponse:
        if self.scheduler is None:
            return _error(503, "no reports: section in the config: nothing to send")
        if schedule not in {s.name for s in self.scheduler.config.schedules}:
            return _error(404, f"no schedule {schedule!r}")
        if self._busy.locked():
            return _error(409, "a send is already running")
        async with self._busy:
            sent = await self.scheduler.run_schedule(schedule)
        wanted = len(self.scheduler.recipients(schedule))
        return JSONResponse({"status": "success", "data": {"schedule": schedule, "sent": sent, "of": wanted}})


def reports_router(
    reporter: Reporter,
    *,
    scheduler: ReportScheduler | None = None,
    max_period_s: float = 90 * 86400,
    max_concurrent: int = 2,
    base_path: str = "",
) -> APIRouter:
    """The render and send APIs and the preview page over ``reporter`` (see the module docstring)."""
    pages = _ReportPages(
        reporter, max_period_s=max_period_s, max_concurrent=max_concurrent, base_path=base_path
    )
    router = APIRouter()
    router.add_api_route("/api/v1/reports/render", pages.render, methods=["GET"], name="reports_render")
    router.add_api_route(
        "/api/v1/reports/send", _SendNow(scheduler).send, methods=["POST"], name="reports_send"
    )
    ui = APIRouter(prefix=base_path.rstrip("/"), route_class=SecureRoute, include_in_schema=False)
    ui.add_api_route("/reports", pages.preview, methods=["GET"], name="dashboard_reports")
    router.include_router(ui)
    return router
