"""The Capacity page: the cells' free chunks, N+1 headroom and the growth forecast (foundation only).

Server-rendered from a plain mapping: ``capacity()`` returns the outlook as JSON data (the wiring passes
``platforms.capacity.CapacityService.outlook().to_json``; the dashboard imports nothing of it). A principal
scoped to orgs or spaces gets a 403 refusal page, never a cell; no capacity source: "not configured". The
allocated-memory history and its fitted trend are drawn as an inline SVG (no script needed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.auth_pages import session_context
from platforms.tenancy import scope_of

__all__ = ["CapacityData", "add_capacity_pages", "trend_svg_points"]

CapacityData = Callable[[], Mapping[str, Any]]
_W, _H = 600.0, 160.0


def _date(t: float | None) -> str:
    return "—" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def trend_svg_points(history: Sequence[Sequence[float]], total_mib: float) -> str:
    """``points`` of an SVG polyline of the allocated-memory history in a 600×160 box, 0..total upward."""
    if len(history) < 2 or total_mib <= 0:
        return ""
    t0, t1 = history[0][0], history[-1][0]
    span = (t1 - t0) or 1.0
    return " ".join(
        f"{(t - t0) / span * _W:.1f},{_H - min(max(v / total_mib, 0.0), 1.0) * _H:.1f}" for t, v in history
    )


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
        total = float(data.get("memory", {}).get("total_mib") or 0.0)
        return page(
            "capacity.html.j2",
            nav="capacity",
            refused="",
            error="",
            c=data,
            date=_date,
            points=trend_svg_points(data.get("history", []), total),
            **ctx,
        )
