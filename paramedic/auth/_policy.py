"""Who may do what: the role a request needs, from its method and path alone, in one explicit table.

:data:`ROUTE_RULES` names every route the server mounts (a test walks ``app.routes`` and fails on a route
without a rule, or a rule without a route), so no route falls through to a default silently:

- every read (GET/HEAD/OPTIONS) needs ``read``: a viewer, or nobody when ``anonymous_read`` is on; so do the
  POSTs that only read (the query API that Prometheus clients and Grafana send as forms);
- ``POST /api/v2/alerts`` needs ``alert-sender``: the narrow token Prometheus posts alerts with (operator and
  admin may post too, nothing else may be done with an alert-sender token);
- ``POST /api/v1/write`` and ``/api/v1/otlp/v1/{metrics,logs}`` need ``metrics-writer``: the narrow token
  senders push with (operator and admin may push too; a scoped operator only into its own orgs/spaces);
- silences, acknowledgements and approving or rejecting remediations need ``operator``;
- policy mode switches (dry-run/live) and deployments need ``admin``. Users and tokens are managed on the
  server's host with ``paramedic user|token``: no HTTP route does it.

``/metrics``, ``/-/healthy``, ``/-/ready``, the login page (with the single sign-on start and callback,
``/login/uaa`` and ``/login/uaa/callback``) and the dashboard's static files (public code and
styles the login page needs) are open; ``POST /logout`` needs any logged-in role.

Outside the table (a path no route serves, so the app answers 404), reads need ``read`` and anything else
``admin``: a route added without a rule is closed, not open.

Everything outside the API (:func:`is_ui`: not under ``/api/``, ``/-/``, ``/metrics`` or FastAPI's docs) is
the web UI: it needs a logged-in user (or a token) whatever ``anonymous_read`` says, and the middleware
redirects an anonymous browser to ``/login``. The signed links of approval emails
(``/api/v1/actions/{id}/approve?token=...`` and ``/reject?token=...``) are exempt: the signed token in the
query is their authorisation, verified by the remediation router (signature, expiry, single use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from paramedic.auth._store import Role

__all__ = [
    "LOGIN_PATH",
    "LOGOUT_PATH",
    "OPEN_PATHS",
    "READ_ONLY_POSTS",
    "ROUTE_RULES",
    "Requirement",
    "RouteRule",
    "is_ui",
    "requirement",
    "route_table_markdown",
    "rule_for",
]

LOGIN_PATH, LOGOUT_PATH = "/login", "/logout"
OPEN_PATHS = frozenset({"/metrics", "/-/healthy", "/-/ready", LOGIN_PATH, "/favicon.ico"})
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

# "open": no check; "signed_link": the router checks the signed token; "read": viewer unless anonymous reads
# are allowed; a Role: that role (or one above it, see ``role_allows``).
Requirement = Literal["open", "signed_link", "read"] | Role


@dataclass(frozen=True, slots=True)
class RouteRule:
    """``method`` on the route ``path`` (FastAPI's template, ``{name}`` one segment, ``{name:path}`` the
    rest) needs ``need``; ``signed`` routes are ``signed_link`` instead when the query has a ``token``."""

    method: str
    path: str
    need: Requirement
    signed: bool = False

    def pattern(self) -> re.Pattern[str]:
        out, pos = [], 0
        for m in re.finditer(r"\{(\w+)(:path)?\}", self.path):
            out.append(re.escape(self.path[pos : m.start()]))
            out.append(".*" if m.group(2) else "[^/]+")
            pos = m.end()
        out.append(re.escape(self.path[pos:]))
        return re.compile("".join(out))


_READS = [
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/api/v1/label/{name}/values",
    "/api/v1/targets",
    "/api/v1/collector/health",
    "/api/v1/metadata",
    "/api/v1/rules",
    "/api/v1/alerts",
    "/api/v1/status/buildinfo",
    "/api/v1/status/runtimeinfo",
    "/api/v1/status/config",
    "/api/v1/status/flags",
    "/api/v1/status/cluster",  # foundation data: a tenant scope gets 404 (paramedic.cluster)
    "/api/v2/alerts",
    "/api/v2/alerts/groups",
    "/api/v2/silences",
    "/api/v2/silence/{silence_id}",
    "/api/v2/status",
    "/api/v2/receivers",
    "/api/v2/paramedic/notifications",
    "/api/v1/logs/search",
    "/api/v1/logs/histogram",
    "/api/v1/logs/context",
    "/api/v1/logs/patterns",
    "/api/v1/logs/tail",
    "/api/v1/actions",
    "/api/v1/actions/{action_id}",
    "/api/v1/policies",
    "/",
    "/apps",
    "/apps/{app}",
    "/apps/{app}/events.json",
    "/explore",
    "/alerts",
    "/remediation",
    "/remediation/actions/{action_id}",
    "/logs",
    "/api/v1/capacity",  # foundation data: the handler refuses a tenant scope (403)
    "/capacity",
    "/reports",  # scheduled reports: the preview page and the render API (dashboard.reports)
    "/api/v1/reports/render",
    "/api/v1/slo",  # SLO status: the handler answers the scope's SLOs only (another tenant's: 404)
    "/api/v1/slo/{org}/{space}/{name}",
]

ROUTE_RULES: tuple[RouteRule, ...] = (
    *(RouteRule("GET", path, "open") for path in ("/login", "/metrics", "/-/healthy", "/-/ready")),
    RouteRule("GET", "/favicon.ico", "open"),
    RouteRule("GET", "/login/uaa", "open"),
    RouteRule("GET", "/login/uaa/callback", "open"),
    RouteRule("GET", "/static/{path:path}", "open"),
    RouteRule("POST", LOGIN_PATH, "open"),
    RouteRule("POST", LOGOUT_PATH, "viewer"),
    *(RouteRule(method, path, "read") for path in sorted(READ_ONLY_POSTS) for method in ("GET", "POST")),
    *(RouteRule("GET", path, "read") for path in _READS),
    RouteRule("GET", "/api/v1/actions/{action_id}/approve", "read", signed=True),
    RouteRule("GET", "/api/v1/actions/{action_id}/reject", "read", signed=True),
    RouteRule("POST", "/api/v2/alerts", "alert-sender"),
    # pushed metrics and logs (collector.push): the receiver checks a scoped token's org/space per series
    RouteRule("POST", "/api/v1/write", "metrics-writer"),
    RouteRule("POST", "/api/v1/otlp/v1/metrics", "metrics-writer"),
    RouteRule("POST", "/api/v1/otlp/v1/logs", "metrics-writer"),
    RouteRule("POST", "/api/v2/silences", "operator"),
    RouteRule("DELETE", "/api/v2/silence/{silence_id}", "operator"),
    RouteRule("POST", "/api/v2/paramedic/ack", "operator"),
    RouteRule("POST", "/api/v1/actions/{action_id}/approve", "operator", signed=True),
    RouteRule("POST", "/api/v1/actions/{action_id}/reject", "operator", signed=True),
    RouteRule("POST", "/api/v1/policies/{name}/mode", "admin"),
    RouteRule("POST", "/api/v1/deployments", "admin"),
    RouteRule("POST", "/api/v1/reports/send", "admin"),  # mails every recipient of a schedule now
)

_EXACT: dict[tuple[str, str], RouteRule] = {(r.method, r.path): r for r in ROUTE_RULES if "{" not in r.path}
_TEMPLATED: tuple[tuple[RouteRule, re.Pattern[str]], ...] = tuple(
    (r, r.pattern()) for r in ROUTE_RULES if "{" in r.path
)


def rule_for(method: str, path: str) -> RouteRule | None:
    """The rule of a request (HEAD and OPTIONS as GET), or None when no route of the table matches."""
    method = "GET" if method in READ_METHODS else method
    exact = _EXACT.get((method, path))
    if exact is not None:
        return exact
    return next((r for r, p in _TEMPLATED if r.method == method and p.fullmatch(path)), None)


def requirement(method: str, path: str, query_string: str) -> Requirement:
    """What a request needs; its query string (raw, as sent) is parsed only for a route a signed link can
    open (``?token=``): parsing costs ~1 us per ``%XX`` escape in Python, and a hostile URL can carry
    tens of thousands of them, so every other request skips it."""
    rule = rule_for(method, path)
    if rule is None:
        return "read" if method in READ_METHODS else "admin"
    if rule.signed and "token" in dict(parse_qsl(query_string)):
        return "signed_link"
    return rule.need


def is_ui(path: str) -> bool:
    """Whether ``path`` belongs to the web UI (HTML pages and their form posts) rather than the API."""
    return not path.startswith(API_PREFIXES)


_WHO = {
    "open": "anyone",
    "read": "viewer (anyone when `anonymous_read`)",
    "viewer": "viewer",
    "operator": "operator",
    "admin": "admin",
    "alert-sender": "alert-sender (or operator, admin)",
    "metrics-writer": "metrics-writer (or operator, admin; a scoped operator into its own org/space only)",
}


def route_table_markdown() -> str:
    """The route -> role table as Markdown (for docs/security.md), one row per method and route."""
    rows = ["| Method | Route | Needs |", "|---|---|---|"]
    for r in sorted(ROUTE_RULES, key=lambda r: (r.path, r.method)):
        need = _WHO[r.need]
        if r.need == "read" and is_ui(r.path):
            need = "viewer (a log-in or token, even with `anonymous_read`)"
        if r.signed:
            need += "; with `?token=`: the signed link itself"
        rows.append(f"| {r.method} | `{r.path}` | {need} |")
    return "\n".join(rows) + "\n"
