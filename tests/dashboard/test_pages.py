"""Dashboard pages rendered over stub readers: content, escaping, security headers, degraded sources."""

from __future__ import annotations

import html as htmllib
import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dashboard import CONTENT_SECURITY_POLICY, Sources, dashboard_router
from dashboard._queries import quote
from tests.dashboard.stubs import EVIL, StubMetrics, stub_sources

PAGES = ["/", "/apps", "/apps/checkout", "/explore", "/explore?expr=up&range=6h&tab=table"]


def client(sources: Sources, base_path: str = "") -> TestClient:
    app = FastAPI()
    app.include_router(dashboard_router(sources, base_path=base_path))
    return TestClient(app)


@pytest.mark.parametrize(
    "path", [*PAGES, "/static/dashboard.js", "/apps/checkout/events.json?start=0&end=60"]
)
def test_security_headers(path: str) -> None:
    resp = client(stub_sources()).get(path)
    assert resp.status_code == 200
    assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"


def test_csp_forbids_inline_code() -> None:
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", PAGES)
def test_no_inline_script_or_style(path: str) -> None:
    html = client(stub_sources(EVIL)).get(path).text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no event handler attributes


def test_overview_kpis_and_sections() -> None:
    html = client(stub_sources()).get("/").text
    assert "Router requests/s" in html and "42.0 req/s" in html
    assert "p95 latency" in html
    assert "RUNNING" in html and "CRASHED" in html
    assert "AppInstanceDown" in html
    assert "restart_instance" in html and "rollback" in html
    assert 'href="/apps/checkout"' in html
    assert "data-spark=" in html


def test_label_values_are_escaped_everywhere() -> None:
    c = client(stub_sources(EVIL))
    for path in ["/", "/apps", f"/explore?expr={EVIL}"]:
        html = c.get(path).text
        assert EVIL not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    img = "<img src=x onerror=alert(1)>"  # a path segment cannot hold the "/" of </script>
    html = c.get(f"/apps/{img}").text
    assert img not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert EVIL not in html  # the stub platform's instance details carry EVIL


def test_app_page_chart_specs_quote_the_app_name() -> None:
    name = 'we"ird} or vector(1)'
    html = client(stub_sources(name)).get("/apps/x").text
    raw = re.search(r'data-charts="([^"]*)"', html)
    assert raw is not None
    charts = json.loads(htmllib.unescape(raw.group(1)))
    assert [c["key"] for c in charts] == ["rps", "errors", "latency", "memory", "cpu", "logs"]
    html = client(stub_sources()).get(f"/apps/{name}").text
    charts = json.loads(htmllib.unescape(re.search(r'data-charts="([^"]*)"', html).group(1)))  # type: ignore[union-attr]
    assert quote(name) in charts[0]["queries"][0]
    assert 'app=we"ird' not in charts[0]["queries"][0]


def test_app_instances_table() -> None:
    html = client(stub_sources()).get("/apps/checkout?range=24h").text
    assert 'id="instances"' in html and "CRASHED" in html
    assert 'data-window-s="86400"' in html
    assert 'class="active">24h' in html


def test_events_json_alerts_actions_and_deployments() -> None:
    resp = client(stub_sources()).get("/apps/checkout/events.json", params={"start": 0, "end": 10**10})
    events = resp.json()["events"]
    kinds = [e["kind"] for e in events]
    assert "alert" in kinds and "action" in kinds and "deployment" in kinds
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)


def test_explore_keeps_expr_and_range_in_the_form() -> None:
    html = (
        client(stub_sources()).get("/explore", params={"expr": 'sum(rate(x{a="b"}[1m]))', "range": "6h"}).text
    )
    assert "sum(rate(x{a=&#34;b&#34;}[1m]))</textarea>" in html
    assert '<option value="6h" selected>' in html


def test_failing_metrics_degrade_the_overview() -> None:
    resp = client(Sources(metrics=StubMetrics(fail=True))).get("/")
    assert resp.status_code == 200
    assert "store unavailable" in resp.text
    assert "Alerting is not configured" in resp.text
    assert "Remediation is not configured" in resp.text


def test_base_path_prefixes_routes_and_links() -> None:
    c = client(stub_sources(), base_path="/ui")
    html = c.get("/ui/").text
    assert 'href="/ui/static/dashboard.css"' in html and 'href="/ui/explore"' in html
    assert c.get("/ui/static/vendor/uplot/uPlot.iife.min.js").status_code == 200
    assert c.get("/ui/static/../app.py").status_code == 404


def test_static_unknown_file_is_404() -> None:
    c = client(stub_sources())
    assert c.get("/static/nope.js").status_code == 404
    assert c.get("/static/vendor/uplot/LICENSE").status_code == 200
