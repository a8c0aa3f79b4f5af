"""The Remediation pages: policies (version, mode, breaker; dry-run/live switch for operators), actions
waiting for approval (approve/reject), the audit trail, and one action with every audit event.

Shells like the Alerts page: ``static/remediation.js`` reads ``/api/v1/policies`` and ``/api/v1/actions``
and writes through ``POST /api/v1/policies/{name}/mode`` and ``/api/v1/actions/{id}/approve|reject`` with
the session's CSRF token in ``X-CSRF-Token``; the API records the logged-in user as ``who``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.auth_pages import session_context

__all__ = ["add_remediation_pages"]


def add_remediation_pages(router: APIRouter, page: Callable[..., HTMLResponse]) -> None:
    """Add ``/remediation`` and ``/remediation/actions/{id}`` to the dashboard's ``router``."""

    @router.get("/remediation", name="dashboard_remediation")
    def remediation(request: Request) -> HTMLResponse:
        return page("remediation/index.html.j2", nav="remediation", **session_context(request))

    @router.get("/remediation/actions/{action_id}", name="dashboard_action")
    def action(request: Request, action_id: str) -> HTMLResponse:
        return page(
            "remediation/action.html.j2", nav="remediation", action_id=action_id, **session_context(request)
        )
