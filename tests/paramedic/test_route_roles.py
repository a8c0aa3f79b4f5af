"""Every route of the fully assembled server has an explicit rule in ``paramedic.auth.ROUTE_RULES`` (no route
falls through to a default), every rule has a route, and the roles mean something."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry

import paramedic.auth._policy as policy
from paramedic.assembly import Paramedic
from paramedic.auth import ROLES, ROUTE_RULES, requirement, role_allows, route_table_markdown, rule_for
from paramedic.config import parse_config

# Every optional section on, so every router is mounted.
FULL = """
server:
  auth:
    tokens_file: tokens.json
    uaa:
      url: https://uaa.example.com
      client_id: paramedic
      client_secret_file: uaa.secret
      cc_api_url: https://api.example.com
metrics_store: {type: embedded, path: metrics}
platform: {type: local, state_dir: platform}
logs:
  relp: {port: 0}
  syslog_tcp: {port: 0}
  syslog_udp: null
  spool: {path: spool}
  search: {type: embedded, path: search}
rules: {files: []}
alerting:
  data_dir: alerting
  route: {receiver: nobody}
  receivers: [{name: nobody}]
remediation: {data_dir: remediation}
cluster: {etcd_endpoints: ["http://127.0.0.1:9"], replica_id: r1}
"""
# Rules without a route: browsers ask for /favicon.ico on their own; it is answered 404, not a login redirect.
ROUTELESS = {("GET", "/favicon.ico")}


def served_routes(tmp_path: Path) -> set[tuple[str, str]]:
    (tmp_path / "uaa.secret").write_text("not-a-real-secret\n")
    server = Paramedic(parse_config(FULL), base_dir=tmp_path, registry=CollectorRegistry())
    try:
        routes = set()
        for route in iter_route_contexts(server.app.routes):
            path = route.path
            assert path is not None
            routes |= {(m, path) for m in route.methods or () if m != "HEAD"}
        return routes
    finally:
        server.store.close()


def test_every_route_has_an_explicit_rule_and_every_rule_a_route(tmp_path: Path) -> None:
    routes = served_routes(tmp_path)
    assert len(routes) > 50
    unruled = [(m, p) for m, p in sorted(routes) if (r := rule_for(m, p)) is None or r.path != p]
    assert not unruled, f"routes without their own rule in paramedic/auth/_policy.py: {unruled}"
    rules = {(r.method, r.path) for r in ROUTE_RULES}
    assert len(rules) == len(ROUTE_RULES), "a route has two rules"
    assert rules - routes == ROUTELESS


@pytest.mark.parametrize(
    ("method", "path", "query", "needed"),
    [
        ("POST", "/api/v1/policies/auto/mode", {}, "admin"),
        ("POST", "/api/v1/deployments", {}, "admin"),
        ("POST", "/api/v2/alerts", {}, "alert-sender"),
        ("POST", "/api/v1/write", {}, "metrics-writer"),
        ("POST", "/api/v1/otlp/v1/logs", {}, "metrics-writer"),
        ("POST", "/api/v2/silences", {}, "operator"),
        ("DELETE", "/api/v2/silence/abc", {}, "operator"),
        ("POST", "/api/v1/actions/a1/approve", {}, "operator"),
        ("POST", "/api/v1/actions/a1/approve", {"token": "t"}, "signed_link"),
        ("GET", "/api/v1/actions/a1/reject", {"token": "t"}, "signed_link"),
        ("POST", "/api/v1/query", {}, "read"),
        ("HEAD", "/api/v2/alerts", {}, "read"),
        ("GET", "/static/js/app.js", {}, "open"),
        ("POST", "/logout", {}, "viewer"),
        ("POST", "/api/v1/not-a-route", {}, "admin"),  # outside the table: closed
        ("PUT", "/api/v2/alerts", {}, "admin"),
        ("GET", "/api/v1/not-a-route", {}, "read"),
    ],
)
def test_requirements(method: str, path: str, query: dict[str, str], needed: str) -> None:
    assert requirement(method, path, urlencode(query)) == needed


def test_only_a_signed_route_parses_the_query_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile URL of 20,000 ``%XX`` escapes costs ~20 ms of event-loop time per parse: the auth
    middleware parses a query string only where a signed link can open the route."""
    parsed: list[str] = []
    real = policy.parse_qsl

    def counting(qs: str) -> list[tuple[str, str]]:
        parsed.append(qs)
        return real(qs)

    monkeypatch.setattr(policy, "parse_qsl", counting)
    hostile = "query=" + "%28" * 10_000 + "1" + "%29" * 10_000
    assert requirement("GET", "/api/v1/query", hostile) == "read"
    assert requirement("POST", "/api/v1/deployments", hostile) == "admin"
    assert requirement("GET", "/api/v1/not-a-route", hostile) == "read"
    assert parsed == []
    assert requirement("POST", "/api/v1/actions/a1/approve", "token=") == "operator"  # blank: no link
    assert requirement("POST", "/api/v1/actions/a1/approve", hostile + "&token=t") == "signed_link"
    assert len(parsed) == 2


def test_role_order_the_alert_sender_and_the_metrics_writer() -> None:
    allowed = {(held, needed) for held in ROLES for needed in ROLES if role_allows(held, needed)}
    assert allowed == {
        ("viewer", "viewer"),
        ("operator", "viewer"),
        ("operator", "operator"),
        ("admin", "viewer"),
        ("admin", "operator"),
        ("admin", "admin"),
        ("alert-sender", "alert-sender"),
        ("operator", "alert-sender"),
        ("admin", "alert-sender"),
        ("metrics-writer", "metrics-writer"),
        ("operator", "metrics-writer"),
        ("admin", "metrics-writer"),
    }


def test_the_markdown_table_lists_every_rule() -> None:
    table = route_table_markdown()
    assert table.startswith("| Method | Route | Needs |\n|---|---|---|\n")
    assert len(table.splitlines()) == 2 + len(ROUTE_RULES)
    assert "| POST | `/api/v1/policies/{name}/mode` | admin |" in table
    assert "| POST | `/api/v2/alerts` | alert-sender (or operator, admin) |" in table
    assert "| GET | `/api/v2/alerts` | viewer (anyone when `anonymous_read`) |" in table
    assert "| GET | `/alerts` | viewer (a log-in or token, even with `anonymous_read`) |" in table  # web UI


def test_docs_security_holds_the_generated_route_table(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "security.md").read_text()
    assert route_table_markdown() in doc, "regenerate the route table in docs/security.md"
