"""The Alerts page: firing alert groups, silences (create, expire), acknowledgement and the notification log.

The page is a shell: ``static/alerts.js`` reads the server's Alertmanager v2 API (``/api/v2/alerts/groups``,
``/api/v2/silences``, ``/api/v2/paramedic/notifications``) and writes through it (``POST /api/v2/silences``,
``DELETE /api/v2/silence/{id}``, ``POST /api/v2/paramedic/ack``) with the session's CSRF token in
``X-CSRF-Token``, so the dashboard stays read-only and the API's role checks apply unchanged. The silence
form also carries the token as a hidden ``csrf_token`` field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.auth_pages import session_context

__all__ = ["add_alert_pages"]


def add_alert_pages(router: APIRouter, page: Callable[..., HTMLResponse]) -> None:
    """Add ``/alerts`` to the dashboard's ``router``; ``page(template, **context)`` renders a template."""

    @router.get("/alerts", name="dashboard_alerts")
    def alerts(request: Request) -> HTMLResponse:
        context: dict[str, Any] = session_context(request)
        return page("alerts/index.html.j2", nav="alerts", **context)
