"""Dashboard pages rendered over stub readers: content, escaping, security headers, degraded sources."""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from dashboard import CONTENT_SECURITY_POLICY, Sources, dashboard_router
from dashboard._overview import build_overview
from dashboard.views_local import APP_CHARTS, KPIS, PER_APP, quote
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from paramedic.assembly import Paramedic
from paramedic.auth import UserStore
from paramedic.config import parse_config
from paramedic.dashboard import PromqlMetricsReader
from platforms.local import PlatformState, StateDir
from platforms.local.haproxy_config import render_haproxy_config
from tests.dashboard.stubs import EVIL, StubMetrics, StubPlatform, stub_sources

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


# --- the real PromQL engine over a MemoryStore ------------------------------------------------------------

NOW_S = 1_800_000_000  # a fixed "now" (Unix seconds) the charts' grids end at


def _write(
    store: MemoryStore, labels: dict[str, str], times_s: Sequence[float], values: Sequence[float]
) -> None:
    ref = store.series_ref(labels_from(labels))
    store.append([ref] * len(times_s), [round(t * 1000) for t in times_s], list(values))


class _ActionAt:
    def __init__(self, created_at: float) -> None:
        self.created_at = created_at

    def recent(
        self, *, app: str | None = None, since_s: float | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        return [
            {
                "action": "restart_app",
                "target": "checkout",
                "status": "succeeded",
                "created_at": self.created_at,
            }
        ]


def test_alert_marker_is_at_the_exact_firing_time_before_the_action_it_caused() -> None:
    store = MemoryStore()
    active_at = NOW_S - 407.0
    fired_at = (
        active_at + 60 + 3.25
    )  # ``for: 1m``, turned firing at the next 10 s evaluation (not on the grid)
    alert = {"alertname": "RouterErrors", "app": "checkout", "severity": "critical"}
    evals = [fired_at + 10 * k for k in range(30)]
    _write(store, {"__name__": "ALERTS", **alert, "alertstate": "firing"}, evals, [1.0] * len(evals))
    _write(store, {"__name__": "ALERTS_FOR_STATE", **alert}, evals, [float(int(active_at))] * len(evals))
    sources = Sources(
        metrics=PromqlMetricsReader(store, clock=lambda: NOW_S), actions=_ActionAt(fired_at + 1)
    )
    resp = client(sources).get("/apps/checkout/events.json", params={"start": NOW_S - 3600, "end": NOW_S})
    events = resp.json()["events"]
    assert [e["kind"] for e in events] == ["alert", "action"], events
    assert events[0]["t"] == pytest.approx(fired_at, abs=1e-3)  # not the next 15 s grid point
    assert events[0]["t"] < events[1]["t"] == fired_at + 1


def _requests(store: MemoryStore, *, fives: bool) -> None:
    times = [NOW_S - 900 + 15 * k for k in range(61)]
    inst = {"app": "checkout", "app_instance": "0", "job": "app"}
    _write(
        store,
        {"__name__": "http_requests_total", **inst, "code": "200"},
        times,
        [75.0 * k for k in range(61)],
    )
    router = {"__name__": "haproxy_backend_http_responses_total", "app": "checkout"}
    _write(store, {**router, "code": "2xx"}, times, [60.0 * k for k in range(61)])
    if fives:  # 20 % of the requests
        _write(
            store,
            {"__name__": "http_requests_total", **inst, "code": "500"},
            times,
            [18.75 * k for k in range(61)],
        )
        _write(store, {**router, "code": "5xx"}, times, [15.0 * k for k in range(61)])


@pytest.mark.parametrize(("fives", "share"), [(False, 0.0), (True, 20.0)])
def test_5xx_share_is_zero_not_no_data_without_any_5xx(fives: bool, share: float) -> None:
    store = MemoryStore()
    _requests(store, fives=fives)
    metrics = PromqlMetricsReader(store, clock=lambda: NOW_S)
    (errors,) = next(c for c in APP_CHARTS if c.key == "errors").queries("checkout")
    series = metrics.range(errors, NOW_S - 600, NOW_S, 15)
    assert len(series) == 1 and series[0].values == pytest.approx([share] * len(series[0].values))
    kpi = next(expr for key, *_, expr in KPIS if key == "err")
    assert [s.value for s in metrics.instant(kpi)] == pytest.approx([share])
    per_app = dict(PER_APP)["err"]
    rows = metrics.instant(per_app)
    assert [s.labels for s in rows] == [{"app": "checkout"}]
    assert [s.value for s in rows] == pytest.approx([share])
    # The overview: the 5xx KPI and its sparkline (from a snapshot, as the page reads them).
    model = build_overview(Sources(metrics=metrics), clock=lambda: NOW_S)
    err = next(k for k in model.kpis if k.key == "err")
    assert err.value == pytest.approx(share) and err.text == f"{share:.2f} %"
    values = json.loads(err.spark)[1]
    assert values[-1] == pytest.approx(share) and all(v is None or v == pytest.approx(share) for v in values)
    assert model.apps[0].cells["err"] == f"{share:.2f} %"


def test_overview_lists_no_haproxy_proxy_that_is_not_an_app(tmp_path: Path) -> None:
    # Every backend of the local router's real config, with the app label the router relabeling gives it.
    ports = iter(range(20000, 20100))
    cfg = render_haproxy_config(PlatformState.new({"checkout": 1}, lambda: next(ports)), StateDir(tmp_path))
    backends = re.findall(r"^backend (\S+)$", cfg, re.MULTILINE)
    assert set(backends) == {"checkout", "no_route"}
    store = MemoryStore()
    times = [NOW_S - 900 + 15 * k for k in range(61)]
    for proxy in [*backends, "stats"]:  # and a `listen stats` proxy, as many HAProxy configs have
        labels = {"__name__": "haproxy_backend_http_responses_total", "proxy": proxy, "app": proxy}
        _write(store, {**labels, "code": "2xx"}, times, [60.0 * k for k in range(61)])
    metrics = PromqlMetricsReader(store, clock=lambda: NOW_S)
    assert [r.name for r in build_overview(Sources(metrics=metrics), clock=lambda: NOW_S).apps] == [
        "checkout"
    ]
    # An app the platform names is listed, whatever its name.
    platform = StubPlatform(["checkout", "stats"])
    model = build_overview(Sources(metrics=metrics, platform=platform), clock=lambda: NOW_S)
    assert [r.name for r in model.apps] == ["checkout", "stats"]
    assert model.apps[1].cells["rps"] != ""


# --- every page behind the server's login -----------------------------------------------------------------


@pytest.fixture
def logged_in(tmp_path: Path) -> Iterator[TestClient]:
    users = UserStore(tmp_path / "users.json")
    users.create("ops", "operator", "operator-password-1")
    config = "server: {auth: {tokens_file: tokens.json}}\nmetrics_store: {type: embedded, path: metrics}\n"
    server = Paramedic(parse_config(config), base_dir=tmp_path, registry=CollectorRegistry())
    with TestClient(server.app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token is not None
        form = {"username": "ops", "password": "operator-password-1", "csrf_token": token.group(1)}
        assert c.post("/login", data=form).status_code == 303
        yield c


def test_every_page_shows_the_logged_in_user_and_a_logout_form(logged_in: TestClient) -> None:
    tokens = set()
    for path in [*PAGES, "/alerts", "/remediation", "/logs"]:
        resp = logged_in.get(path)
        assert resp.status_code == 200, path
        form = re.search(r'<form method="post" action="/logout" class="logout">(.*?)</form>', resp.text, re.S)
        assert form is not None, path
        assert '<span class="who">ops (operator)</span>' in form.group(1), path
        token = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', form.group(1))
        assert token is not None, path
        assert 'id="logout"' in form.group(1), path
        tokens.add(token.group(1))
    assert len(tokens) == 1  # the session's token, the same on every page
    assert logged_in.post("/logout", data={"csrf_token": tokens.pop()}).status_code == 303
    assert logged_in.get("/").status_code == 303  # logged out: back to the login page


def test_pages_without_a_login_show_no_user_or_logout_form() -> None:
    for path in PAGES:
        html = client(stub_sources()).get(path).text
        assert 'class="logout"' not in html and 'class="who"' not in html, path
