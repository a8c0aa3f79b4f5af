"""The Logs page: query box, time range, histogram with drag-zoom, results, context, live tail, patterns.

The page is a shell: ``static/logs.js`` reads the log search API under ``api_base``
(``/api/v1/logs/search?highlight=true``, ``/histogram``, ``/context``, ``/tail`` as Server-Sent Events,
``/patterns``). A pattern's trend is the histogram of its query (app plus the template's constant text, the
same query a click on the pattern runs), for the 20 most frequent. The URL holds the query (``q``), the range
(``range`` preset, or ``start``/``end`` in Unix seconds after a zoom) and the tab, so a view can be shared.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.auth_pages import session_context

__all__ = ["LOG_TABS", "add_log_pages"]

LOG_TABS = ("results", "tail", "patterns")


def _seconds(text: str) -> str:
    """A Unix-seconds bound from the URL, or "" when absent or not a finite number."""
    try:
        value = float(text)
    except ValueError:
        return ""
    return f"{value:.3f}".rstrip("0").rstrip(".") if math.isfinite(value) and value >= 0 else ""


def add_log_pages(
    router: APIRouter,
    page: Callable[..., HTMLResponse],
    *,
    ranges: Mapping[str, int],
    log_search: bool,
) -> None:
    """Add ``/logs`` to the dashboard's ``router``; ``ranges`` are the presets (name -> seconds);
    ``log_search``: the server serves the log API (else the page says it is not configured)."""

    @router.get("/logs", name="dashboard_logs")
    def logs(request: Request) -> HTMLResponse:
        qp = request.query_params
        range_, tab = qp.get("range", "1h"), qp.get("tab", "results")
        lo, hi = _seconds(qp.get("start", "")), _seconds(qp.get("end", ""))
        if not (lo and hi and float(lo) < float(hi)):
            lo = hi = ""
        return page(
            "logs.html.j2",
            nav="logs",
            q=qp.get("q", ""),
            range=range_ if range_ in ranges else "1h",
            ranges=list(ranges),
            range_seconds=dict(ranges),
            start=lo,
            end=hi,
            tab=tab if tab in LOG_TABS else "results",
            log_search=log_search,
            **session_context(request),
        )
