"""Who may do what: the role a request needs, from its method and path alone.

Inventory (the routers the server mounts): every GET/HEAD/OPTIONS reads. POSTs that only read — the query API
Prometheus clients and Grafana send as forms — read too. Everything else that POSTs/PUTs/PATCHes/DELETEs
changes state and needs ``operator``: ``POST /api/v2/alerts`` (Prometheus sending alerts),
``POST /api/v2/silences``, ``DELETE /api/v2/silence/{id}``, ``POST /api/v2/paramedic/ack``, the remediation
actions (approve/reject, policy mode, deployments). The log search API is GET only.

``/metrics``, ``/-/healthy`` and ``/-/ready`` are open, and so are the login page (``/login``) and the
dashboard's static files (public code and styles the login page needs). ``POST /logout`` needs any role.

Everything outside the API (:func:`is_ui`: not under ``/api/``, ``/-/``, ``/metrics`` or FastAPI's docs) is
the web UI: it needs a logged-in user (or a token) whatever ``anonymous_read`` says, and the middleware
redirects an anonymous browser to ``/login``. The signed links of approval emails
(``/api/v1/actions/{id}/approve?token=...`` and ``/reject?token=...``) are exempt: the signed token in the
query is their authorisation, verified by the remediation router (signature, expiry, single use).
"""

from __future__ import annotations

import re
from typing import Literal

from paramedic.auth._store import Role

__all__ = [
    "LOGIN_PATH",
    "LOGOUT_PATH",
    "OPEN_PATHS",
    "READ_ONLY_POSTS",
    "Requirement",
    "is_ui",
    "requirement",
]

LOGIN_PATH, LOGOUT_PATH = "/login", "/logout"
OPEN_PATHS = frozenset({"/metrics", "/-/healthy", "/-/ready", LOGIN_PATH, "/favicon.ico"})
OPEN_PREFIXES = ("/static/",)
API_PREFIXES = ("/api/", "/-/", "/metrics", "/docs", "/redoc", "/openapi.json")
READ_ONLY_POSTS = frozenset(
    {
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/query_exemplars",
        "/api/v1/format_query",
    }
)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SIGNED_LINK = re.compile(r"/api/v1/actions/[^/]+/(?:approve|reject)")

# "open": no check; "signed_link": the router checks the signed token; "read": viewer unless anonymous reads
# are allowed; a Role: at least that role.
Requirement = Literal["open", "signed_link", "read"] | Role


def requirement(method: str, path: str, query: dict[str, str]) -> Requirement:
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return "open"
    if path == LOGOUT_PATH:
        return "viewer"
    if method in {"GET", "POST"} and "token" in query and _SIGNED_LINK.fullmatch(path):
        return "signed_link"
    if method in READ_METHODS or (method == "POST" and path in READ_ONLY_POSTS):
        return "read"
    return "operator"


def is_ui(path: str) -> bool:
    """Whether ``path`` belongs to the web UI (HTML pages and their form posts) rather than the API."""
    return not path.startswith(API_PREFIXES)
