"""The dashboard on Cloud Foundry: a server configured with a ``cloudfoundry`` platform draws its pages
with the Cloud Foundry views, over CF-named series written into its real embedded store through the store's
write path (the names Paramedic stores from Log Cache, see dashboard/cf_names.py). Every expected figure is
computed here from the written inputs. The simulated foundation's layout (platforms.cf_sim) gives the apps:
``api`` lives in two spaces, so apps are keyed by GUID."""

from __future__ import annotations

import html as htmllib
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from dashboard import Sources, dashboard_router
from dashboard._overview import fmt
from dashboard.views_cf import CloudFoundryViews
from dashboard.views_local import KPIS, LocalViews
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from paramedic.assembly import Paramedic
from paramedic.auth import UserStore
from paramedic.config import parse_config
from paramedic.dashboard import PromqlMetricsReader
from platforms.cf_sim.foundation import CFApp, default_foundation
from tests.dashboard.stubs import stub_sources

CHUNK_MIB = 512  # configured below: not the default, so the test sees the setting reach the page
STEP_S = 30  # Log Cache poll interval
POINTS = 21  # ten minutes of polls

CONFIG = f"""
server: {{auth: {{tokens_file: tokens.json}}}}
metrics_store: {{type: embedded, path: metrics}}
dashboard: {{memory_chunk_mib: {CHUNK_MIB}}}
platform:
  type: cloudfoundry
  api_url: http://127.0.0.1:9
  uaa_url: http://127.0.0.1:9
  client_id: paramedic
  client_secret: not-used
"""

# Inputs: per cell (index) remaining/total memory (MiB), containers, disk (MiB), unhealthy flag.
CELLS = [
    {"rem": 5000.0, "tot": 16384.0, "cont": 200.0, "disk": 40000.0, "unhealthy": 0.0},
    {"rem": 2047.0, "tot": 16384.0, "cont": 150.0, "disk": 30000.0, "unhealthy": 1.0},
    {"rem": 700.0, "tot": 16384.0, "cont": 0.0, "disk": 100.0, "unhealthy": 0.0},
]
ROUTERS = [  # per gorouter instance: requests/s, 5xx/s, 502/s, p95 (ms), route table age (ms)
    {"rps": 50.0, "fives": 3.0, "bad": 0.1, "p95": 120.0, "age": 12000.0},
    {"rps": 30.0, "fives": 1.0, "bad": 0.0, "p95": 180.0, "age": 9000.0},
]
BBS = {"LRPsMissing": 2.0, "CrashedActualLRPs": 3.0, "LRPsRunning": 40.0}
CC = [{"out": 4.0, "queue": 7.0}, {"out": 6.0, "queue": 0.0}]
VMS = [("cf", "router", "0", 1.0), ("cf", "diego-cell", "1", 0.0), ("cf", "diego-cell", "0", 1.0)]


@dataclass(frozen=True)
class AppLoad:
    rps: float
    fives: float
    p95_s: float
    memory: tuple[float, ...]  # per instance, bytes
    cpu: tuple[float, ...]  # per instance, percent
    quota: float = 1024.0 * 2**20


def _loads(apps: tuple[CFApp, ...]) -> dict[str, AppLoad]:
    out = {}
    for k, app in enumerate(apps):
        n = k % 3 + 1
        out[app.guid] = AppLoad(
            rps=10.0 * (k + 1),
            fives=0.5 * k,
            p95_s=0.05 * (k + 1),
            memory=tuple(2**20 * (100 + 10 * k + i) for i in range(n)),
            cpu=tuple(float(5 * k + i) for i in range(n)),
        )
    return out


class _Writer:
    def __init__(self, store: object, end_s: float) -> None:
        self.store = store
        self.times_ms = [round((end_s - (POINTS - 1 - i) * STEP_S) * 1000) for i in range(POINTS)]

    def gauge(self, labels: dict[str, str], value: float) -> None:
        self._write(labels, [value] * POINTS)

    def counter(self, labels: dict[str, str], per_s: float) -> None:
        self._write(labels, [1000.0 + per_s * STEP_S * i for i in range(POINTS)])

    def _write(self, labels: dict[str, str], values: list[float]) -> None:
        ref = self.store.series_ref(labels_from(labels))  # type: ignore[attr-defined]
        self.store.append([ref] * POINTS, self.times_ms, values)  # type: ignore[attr-defined]


def _write_platform(w: _Writer) -> None:
    comp = {"deployment": "cf"}
    for i, c in enumerate(CELLS):
        rep = {"source_id": "rep", "job": "diego-cell", "index": str(i), **comp}
        w.gauge({"__name__": "CapacityRemainingMemory", **rep}, c["rem"])
        w.gauge({"__name__": "CapacityTotalMemory", **rep}, c["tot"])
        w.gauge({"__name__": "CapacityRemainingContainers", **rep}, c["cont"])
        w.gauge({"__name__": "CapacityTotalContainers", **rep}, 250.0)
        w.gauge({"__name__": "CapacityRemainingDisk", **rep}, c["disk"])
        w.gauge({"__name__": "CellUnhealthy", **rep}, c["unhealthy"])
    for i, r in enumerate(ROUTERS):
        gr = {"source_id": "gorouter", "job": "router", "index": str(i), **comp}
        w.counter({"__name__": "total_requests", **gr}, r["rps"])
        w.counter({"__name__": "responses_5xx", **gr}, r["fives"])
        w.counter({"__name__": "bad_gateways", **gr}, r["bad"])
        w.gauge({"__name__": "gorouter_latency_p95", **gr}, r["p95"])
        w.gauge({"__name__": "ms_since_last_registry_update", **gr}, r["age"])
    for name, value in BBS.items():
        w.gauge({"__name__": name, "source_id": "bbs", "job": "diego-api", "index": "0", **comp}, value)
    for i, c in enumerate(CC):
        cc = {"source_id": "cloud_controller", "job": "api", "index": str(i), **comp}
        w.gauge({"__name__": "requests_outstanding", **cc}, c["out"])
        w.gauge({"__name__": "job_queue_length_total", **cc}, c["queue"])
    for dep, job, index, healthy in VMS:
        vm = {"source_id": "bosh-system-metrics-forwarder", "deployment": dep, "job": job, "index": index}
        w.gauge({"__name__": "system_healthy", **vm}, healthy)


def _write_apps(w: _Writer, apps: tuple[CFApp, ...], loads: dict[str, AppLoad]) -> None:
    for app in apps:
        load = loads[app.guid]
        names = {"app": app.name, "space": app.space, "org": app.org}
        kpi = {"app_guid": app.guid, **names}
        w.gauge({"__name__": "cf_app_http_requests_per_second", **kpi}, load.rps)
        if load.fives:  # an app that never answered a 5xx has no series
            w.gauge({"__name__": "cf_app_http_5xx_per_second", **kpi}, load.fives)
        w.gauge({"__name__": "cf_app_http_latency_p95_ns", **kpi}, load.p95_s * 1e9)
        for i, (mem, cpu) in enumerate(zip(load.memory, load.cpu, strict=True)):
            inst = {"source_id": app.guid, "instance_id": str(i), **names}
            w.gauge({"__name__": "memory", **inst}, mem)
            w.gauge({"__name__": "cpu", **inst}, cpu)
            w.gauge({"__name__": "disk", **inst}, 64.0 * 2**20)
            w.gauge({"__name__": "memory_quota", **inst}, load.quota)


@dataclass
class Served:
    client: TestClient
    apps: tuple[CFApp, ...]
    loads: dict[str, AppLoad]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("cfdash")
    server = Paramedic(parse_config(CONFIG), base_dir=tmp, registry=CollectorRegistry())
    apps = default_foundation().apps
    loads = _loads(apps)
    w = _Writer(server.store, time.time())
    _write_platform(w)
    _write_apps(w, apps, loads)
    users = UserStore(tmp / "users.json")
    users.create("ops", "viewer", "viewer-password-1")
    # No lifespan (no `with`): nothing polls or discovers, the pages read the store and never the CF API.
    client = TestClient(server.app, base_url="http://127.0.0.1", follow_redirects=False)
    try:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        form = {"username": "ops", "password": "viewer-password-1", "csrf_token": token.group(1)}
        assert client.post("/login", data=form).status_code == 303
        yield Served(client, apps, loads)
    finally:
        server.store.close()


def _value(html: str, element_id: str) -> float | None:
    m = re.search(rf'id="{re.escape(element_id)}".*?data-value="([^"]*)"', html, re.S)
    assert m is not None, f"{element_id} not on the page"
    return float(m.group(1)) if m.group(1) else None


def test_overview_router_kpis(served: Served) -> None:
    html = served.client.get("/").text
    assert "<h1>Foundation overview</h1>" in html
    assert 'class="errors"' not in html  # every query ran; the CF API was never called
    rps = sum(r["rps"] for r in ROUTERS)
    assert _value(html, "kpi-rps") == pytest.approx(rps)
    assert _value(html, "kpi-err") == pytest.approx(100 * sum(r["fives"] for r in ROUTERS) / rps)
    assert _value(html, "kpi-p95") == pytest.approx(max(r["p95"] for r in ROUTERS) / 1000)
    # increase() over 5 minutes of a counter rising at a constant rate (extrapolated to the window)
    assert _value(html, "kpi-bad_gateways") == pytest.approx(300 * sum(r["bad"] for r in ROUTERS), rel=0.05)
    assert _value(html, "kpi-route_age") == pytest.approx(max(r["age"] for r in ROUTERS) / 1000)
    assert 'id="kpi-states"' not in html  # no instance states from the platform on CF


def test_overview_capacity_in_memory_chunks(served: Served) -> None:
    html = served.client.get("/").text
    chunks = sum(math.floor(c["rem"] / CHUNK_MIB) for c in CELLS)
    assert _value(html, "fig-capacity-chunks") == chunks
    assert f"Free memory chunks ({CHUNK_MIB} MiB)" in html
    free = 100 * sum(c["rem"] for c in CELLS) / sum(c["tot"] for c in CELLS)
    assert _value(html, "fig-capacity-mem_free") == pytest.approx(free)
    assert _value(html, "fig-capacity-containers_free") == sum(c["cont"] for c in CELLS)
    assert _value(html, "fig-capacity-disk_free") == sum(c["disk"] for c in CELLS) * 2**20
    assert _value(html, "fig-capacity-cells") == len(CELLS)


def test_overview_diego_cc_and_bosh_panels(served: Served) -> None:
    html = served.client.get("/").text
    assert _value(html, "fig-diego-lrps_missing") == BBS["LRPsMissing"]
    assert _value(html, "fig-diego-crashed") == BBS["CrashedActualLRPs"]
    assert _value(html, "fig-diego-lrps_running") == BBS["LRPsRunning"]
    assert _value(html, "fig-diego-unhealthy_cells") == sum(c["unhealthy"] for c in CELLS)
    assert _value(html, "fig-cc-outstanding") == sum(c["out"] for c in CC)
    assert _value(html, "fig-cc-job_queue") == sum(c["queue"] for c in CC)
    assert _value(html, "fig-bosh-vms") == len(VMS)
    assert _value(html, "fig-bosh-vms_unhealthy") == sum(1 for *_, h in VMS if h == 0)
    cells = re.search(r'id="list-diego">(.*?)</table>', html, re.S)
    assert cells is not None
    sick_cells = [str(i) for i, c in enumerate(CELLS) if c["unhealthy"]]
    assert re.findall(r"<tr><td>cf</td><td>diego-cell</td><td>(\d+)</td></tr>", cells.group(1)) == sick_cells
    vms = re.search(r'id="list-bosh">(.*?)</table>', html, re.S)
    assert vms is not None
    sick = [(d, j, i) for d, j, i, h in VMS if h == 0]
    assert re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", vms.group(1)) == sick


def test_overview_apps_grouped_by_org_and_space_keyed_by_guid(served: Served) -> None:
    html = served.client.get("/").text
    table = re.search(r'<table class="grid" id="apps">(.*?)</table>', html, re.S)
    assert table is not None
    groups = re.findall(r'<tr class="group"><th colspan="\d+">(.*?)</th></tr>', table.group(1))
    spaces = sorted({(a.org, a.space) for a in served.apps})
    assert groups == [f"{org} / {space}" for org, space in spaces]
    rows = re.findall(r'<tr>\s*<td><a href="/apps/([^"]+)">([^<]+)</a></td>(.*?)</tr>', table.group(1), re.S)
    by_guid = {guid: (name, re.findall(r"<td>(.*?)</td>", cells)) for guid, name, cells in rows}
    assert set(by_guid) == {a.guid for a in served.apps}  # api twice: two rows, two GUIDs
    for app in served.apps:
        load = served.loads[app.guid]
        name, cells = by_guid[app.guid]
        assert name == app.name
        share = 100 * load.fives / load.rps
        assert cells == [
            fmt(load.rps, "req/s"),
            fmt(share, "%"),
            fmt(load.p95_s, "s"),
            str(len(load.memory)),
            fmt(sum(load.memory), "B"),
        ], app


def test_apps_page_names_each_app_with_its_space(served: Served) -> None:
    html = served.client.get("/apps").text
    found = dict(re.findall(r'<li><a href="/apps/([^"]+)">([^<]+)</a></li>', html))
    assert found == {a.guid: f"{a.name} ({a.org} / {a.space})" for a in served.apps}


def _charts(html: str) -> dict[str, dict[str, object]]:
    raw = re.search(r'data-charts="([^"]*)"', html)
    assert raw is not None
    return {c["key"]: c for c in json.loads(htmllib.unescape(raw.group(1)))}


def _last_values(client: TestClient, query: str, legend: str) -> dict[str, float]:
    end = time.time()
    resp = client.get(
        "/api/v1/query_range", params={"query": query, "start": end - 300, "end": end, "step": 15}
    )
    assert resp.status_code == 200, resp.text
    return {s["metric"].get(legend, ""): float(s["values"][-1][1]) for s in resp.json()["data"]["result"]}


def test_app_page_by_guid_draws_cf_series(served: Served) -> None:
    app = next(a for a in served.apps if a.name == "api" and a.org == "globex")
    load = served.loads[app.guid]
    html = served.client.get(f"/apps/{app.guid}").text
    assert '<span class="name">api</span>' in html
    assert f'<span class="where" id="app-where">{app.org} / {app.space}</span>' in html
    charts = _charts(html)
    assert list(charts) == ["rps", "errors", "latency", "memory", "cpu", "disk", "logs"]
    c = served.client
    rps, fives = charts["rps"]["queries"]  # type: ignore[misc]
    assert _last_values(c, rps, "") == {"": pytest.approx(load.rps)}
    assert _last_values(c, fives, "") == {"": pytest.approx(load.fives)}
    (errors,) = charts["errors"]["queries"]  # type: ignore[misc]
    assert _last_values(c, errors, "") == {"": pytest.approx(100 * load.fives / load.rps)}
    (p95,) = charts["latency"]["queries"]  # type: ignore[misc]
    assert _last_values(c, p95, "") == {"": pytest.approx(load.p95_s)}
    memory, quota = charts["memory"]["queries"]  # type: ignore[misc]
    assert _last_values(c, memory, "instance_id") == {str(i): m for i, m in enumerate(load.memory)}
    assert _last_values(c, quota, "") == {"": load.quota}
    (cpu,) = charts["cpu"]["queries"]  # type: ignore[misc]
    assert _last_values(c, cpu, "instance_id") == {str(i): v for i, v in enumerate(load.cpu)}
    # Instances from the container metrics, each with a link to its memory series.
    rows = re.findall(r'<tr>\s*<td>(\d+)</td><td class="state state-running">RUNNING</td>', html)
    assert rows == [str(i) for i in range(len(load.memory))]
    assert f"source_id%3D%22{app.guid}%22%2Cinstance_id%3D%220%22" in html


def test_app_page_quotes_a_hostile_key(served: Served) -> None:
    key = 'x"} or vector(1) or {a="'
    html = served.client.get("/apps/" + key).text
    charts = _charts(html)
    for chart in charts.values():
        for q in chart["queries"]:  # type: ignore[attr-defined]
            assert 'x\\"} or vector(1)' in q and '"x"}' not in q
            resp = served.client.get("/api/v1/query", params={"query": q})
            assert resp.status_code == 200 and resp.json()["data"]["result"] == [], q
    assert "No instances." in html


class _Recorded:
    """Remediation actions as the audit log gives them: CF policies target the app GUID (app_label:
    app_guid), so the audit log names the app by its GUID."""

    def __init__(self, created_at: float, guid: str) -> None:
        self.created_at = created_at
        self.guid = guid
        self.asked: list[str | None] = []

    def recent(
        self, *, app: str | None = None, since_s: float | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        self.asked.append(app)
        action = {
            "action": "restart_app",
            "target": app,
            "status": "succeeded",
            "created_at": self.created_at,
        }
        return [action] if app == self.guid else []


class _Firing:
    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels

    def firing(self) -> list[dict[str, Any]]:
        return [{"labels": self.labels, "annotations": {}, "starts_at": time.time() - 60, "state": "active"}]


def test_timeline_markers_and_alert_links_follow_the_guid() -> None:
    now = time.time()
    store = MemoryStore()
    w = _Writer(store, now)
    app = next(
        a for a in default_foundation().apps if a.name == "api" and a.org == "acme" and a.space == "dev"
    )
    other = next(a for a in default_foundation().apps if a.name == "api" and a.guid != app.guid)
    _write_apps(w, (app,), _loads((app,)))
    alert = {"alertname": "CFAppErrors", "app": app.name, "app_guid": app.guid, "alertstate": "firing"}
    w.gauge({"__name__": "ALERTS", **alert}, 1.0)
    actions = _Recorded(now - 30, app.guid)
    sources = Sources(
        metrics=PromqlMetricsReader(store), actions=actions, alerts=_Firing({**alert, "severity": "page"})
    )
    fastapi_app = FastAPI()
    fastapi_app.include_router(dashboard_router(sources, views=CloudFoundryViews()))
    c = TestClient(fastapi_app)
    events = c.get(f"/apps/{app.guid}/events.json", params={"start": now - 900, "end": now}).json()["events"]
    assert [e["kind"] for e in events] == ["alert", "action"]
    assert events[0]["text"] == "CFAppErrors"
    assert actions.asked == [app.guid]  # by the GUID: the name `api` is the twin's too
    # the other `api`: no alert of its own, and the actions of acme/dev/api are not its own
    quiet = c.get(f"/apps/{other.guid}/events.json", params={"start": now - 900, "end": now}).json()["events"]
    assert [e["kind"] for e in quiet] == []
    html = c.get("/").text
    assert re.search(rf'<b>CFAppErrors</b>\s*<a href="/apps/{app.guid}">api</a>', html)


def test_local_overview_keeps_its_shape() -> None:
    """Without a platform (or with the local one) the overview is the local platform's: its KPIs, the app
    table with an Instances column, no foundation panels, no grouping."""
    app = FastAPI()
    app.include_router(dashboard_router(stub_sources()))
    html = TestClient(app).get("/").text
    assert "<h1>Platform overview</h1>" in html and 'id="panels"' not in html
    assert "<th>App</th><th>Requests/s</th><th>5xx</th><th>p95</th><th>Up</th><th>Instances</th>" in html
    assert 'id="kpi-states"' in html and 'class="group"' not in html
    assert [k.key for k in LocalViews().overview().kpis] == [key for key, *_ in KPIS]
