"""The Capacity page: the cells' free chunks, N+1 headroom and the growth forecast (foundation only).

Server-rendered from a plain mapping: ``capacity()`` returns the outlook as JSON data (the wiring passes
``paramedic.dashboard.CapacityPage``; the dashboard imports nothing of ``platforms.capacity``) and raises
:class:`~dashboard.base.ReaderError` when its source fails. A principal
scoped to orgs or spaces gets a 403 refusal page, never a cell; no capacity source: "not configured". The
allocated-memory history, its fitted trend to the horizon, the total and the N+1 limit are drawn as an inline
SVG (no script needed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard._capacity_chart import H, W, capacity_chart
from dashboard.auth_pages import session_context
from platforms.tenancy import scope_of

__all__ = ["CapacityData", "add_capacity_pages"]

CapacityData = Callable[[], Mapping[str, Any]]


def _date(t: float | None) -> str:
    return "—" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def add_capacity_pages(
    router: APIRouter, page: Callable[..., HTMLResponse], capacity: CapacityData | None
) -> None:
    """Add ``/capacity`` to the dashboard's ``router``."""

    @router.get("/capacity", name="dashboard_capacity")
    def capacity_page(request: Request) -> HTMLResponse:
        ctx = session_context(request)
        scope = scope_of(request)
        if not scope.is_foundation:
            return page(
                "capacity.html.j2", 403, nav="capacity", refused=scope.describe(), c=None, error="", **ctx
            )
        if capacity is None:
            return page("capacity.html.j2", nav="capacity", refused="", c=None, error="", **ctx)
        try:
            data = capacity()
        except Exception as exc:
            return page("capacity.html.j2", 503, nav="capacity", refused="", c=None, error=str(exc), **ctx)
        return page(
            "capacity.html.j2",
            nav="capacity",
            refused="",
            error="",
            c=data,
            date=_date,
            chart=capacity_chart(data),
            chart_w=W,
            chart_h=H,
            **ctx,
        )
