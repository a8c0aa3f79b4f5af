"""Tenancy in the data (issue 14): every series, log line and alert of an app carries its ``org`` and
``space``; foundation components (router process, node, cells) carry neither.

* config: ``platform.spaces`` is validated (names as grants, an app in one space, unknown apps named
  with file and key);
* units: the router's tenant relabel rules and the log pipeline's tenant stage;
* the local platform, as ``paramedic demo`` runs it (its apps alternate between ``demo/team-a`` and
  ``demo/team-b``): app series, router per-app series, recorded series, logs and a fired alert;
* Cloud Foundry is covered over the simulated foundation in ``test_data_labels_cf.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from collector.presets import router_relabel_rules, tenant_relabel_rules
from collector.relabel import compile_rules, relabel
from log_pipeline.enrich import enrich, tenant_labeller
from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.patterns import PatternStats, TemplateMiner
from log_pipeline.pipeline import standard_stages
from log_pipeline.search.tantivy_store import TantivyStore
from log_pipeline.syslog import SyslogParser
from metrics_store.model import Labels
from paramedic.config import ConfigError, parse_config
from paramedic.demo._config import demo_spaces
from paramedic.demo._run import APP_NAMES
from platforms.base import TenantResolver
from platforms.cf_sim.syslog_format import rfc5424
from platforms.cloudfoundry import CloudFoundryPlatform
from platforms.config import CloudFoundryPlatformConfig
from platforms.local import LocalPlatform
from platforms.local.fault_client import inject_fault
from platforms.local.state import PlatformState, StateDir
from tests.platforms.cloudfoundry.fake_cf import (
    API_A,
    API_B,
    APP_SPACE,
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_SPACE,
    FakeCF,
    serve,
)
from tests.support.demo import Demo, running_demo
from tests.support.servers import wait_until

# -- config ---------------------------------------------------------------------------------------------


def _local(spaces: object, state_dir: str = "/nonexistent/platform") -> str:
    return yaml.safe_dump({"platform": {"type": "local", "state_dir": state_dir, "spaces": spaces}})


@pytest.mark.parametrize(
    ("spaces", "problem"),
    [
        ({"demo": ["web"]}, "platform.spaces: Value error, 'demo': name a space, ORG/SPACE"),
        ({"demo/ x/y": ["web"]}, "platform.spaces: Value error, 'demo/ x/y': expected ORG or ORG/SPACE"),
        ({"demo/a": ["Web!"]}, "platform.spaces: Value error, demo/a[0]: app 'Web!' is not a valid app name"),
        (
            {"demo/a": ["web"], "demo/b": ["api", "web"]},
            "platform.spaces: Value error, demo/b[1]: app 'web' is already in space demo/a",
        ),
        ({"demo/a": "web"}, "platform.spaces.demo/a: Input should be a valid list"),
    ],
)
def test_bad_spaces_name_file_key_and_problem(spaces: object, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_local(spaces), "paramedic.yaml")
    assert re.search(rf"paramedic\.yaml:\d+: {re.escape(problem)}", str(err.value)), str(err.value)


def test_unknown_app_is_named_with_file_and_key(tmp_path: Path) -> None:
    """With the platform's state present, an app of ``spaces`` the platform does not run is an error."""
    (tmp_path / "state.json").write_text(json.dumps(_state_doc(["checkout", "catalog"])), encoding="utf-8")
    assert [a.name for a in StateDir(tmp_path).load().apps] == ["catalog", "checkout"]
    text = _local({"demo/team-a": ["checkout", "payments"]}, str(tmp_path))
    with pytest.raises(ConfigError) as err:
        parse_config(text, "paramedic.yaml")
    msg = str(err.value)
    assert re.search(
        r"paramedic\.yaml:\d+: platform: Value error, spaces\.demo/team-a\[1\]: no app 'payments'", msg
    )
    assert "(apps: catalog, checkout)" in msg, msg
    good = parse_config(_local({"demo/team-a": ["checkout"], "demo/team-b": ["catalog"]}, str(tmp_path)))
    assert good.platform is not None and good.platform.type == "local"
    assert good.platform.tenants() == {"checkout": ("demo", "team-a"), "catalog": ("demo", "team-b")}


def _state_doc(apps: list[str]) -> dict[str, Any]:
    """A minimal state.json as the platform writes it (one instance per app)."""
    return PlatformState.new(dict.fromkeys(apps, 1)).to_json()


def test_local_adapter_is_a_tenant_resolver(tmp_path: Path) -> None:
    platform = LocalPlatform(tmp_path, tenants={"checkout": ("demo", "team-a")})
    assert isinstance(platform, TenantResolver)
    assert platform.tenant_of("checkout") == ("demo", "team-a")
    assert platform.tenant_of("catalog") is None  # in no space: foundation-only
    assert LocalPlatform(tmp_path).tenant_of("checkout") is None  # no spaces configured: as before


def test_cf_tenant_of_answers_from_the_listing_and_spends_no_cc_budget_on_strangers() -> None:
    """Over the loopback fake CC: the same name in two spaces is ambiguous, a GUID or org/space/name is not;
    unknown names (what a stranger's log lines could carry) cost no CC call; the listing is refreshed at
    most once per ``app_cache_ttl_s``."""
    fake = FakeCF(twins=True)
    now = [1000.0]
    for running in serve(fake):
        config = CloudFoundryPlatformConfig.model_validate(
            {"type": "cloudfoundry", "api_url": running.base_url, "uaa_url": running.base_url,
             "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "app_cache_ttl_s": 60}
        )  # fmt: skip
        cf = CloudFoundryPlatform(config, registry=CollectorRegistry(), clock=lambda: now[0])
        try:
            assert isinstance(cf, TenantResolver)
            org = running.orgs[running.spaces[APP_SPACE]["relationships"]["organization"]["data"]["guid"]]
            space_a, space_b = running.spaces[APP_SPACE]["name"], running.spaces[OTHER_SPACE]["name"]
            assert cf.tenant_of(API_A) == (org["name"], space_a)
            assert cf.tenant_of(API_B) == (org["name"], space_b)
            assert cf.tenant_of(f"{org['name']}/{space_b}/api") == (org["name"], space_b)
            assert cf.tenant_of("api") is None  # two spaces have one
            calls = len(running.cc_calls())
            assert calls > 0
            for i in range(200):
                assert cf.tenant_of(f"stranger-{i}") is None
            assert len(running.cc_calls()) == calls
            added = running.add_app("newcomer", OTHER_SPACE)
            assert cf.tenant_of(added) is None  # not listed yet, and not asked for
            now[0] += 61
            assert cf.tenant_of("newcomer") == (org["name"], space_b)  # one refresh of the listing
            assert cf.tenant_of("stranger-x") is None
            refresh = running.cc_calls()[calls:]
            listings = {("GET", "/v3/apps"), ("GET", "/v3/processes")}
            assert refresh and {(r.method, r.path) for r in refresh} <= listings
            assert not any("names" in r.query for r in refresh)  # the listing (its pages), no lookups by name
        finally:
            cf.close()


# -- units ----------------------------------------------------------------------------------------------


def test_router_rules_label_each_backend_with_its_apps_tenant() -> None:
    spaces = {"demo/team-a": ["checkout", "search"], "demo/team-b": ["catalog"]}
    tenants = {app: tuple(t.split("/")) for t, apps in spaces.items() for app in apps}
    rules = compile_rules(router_relabel_rules("haproxy", tenants))  # type: ignore[arg-type]

    def series(name: str, **labels: str) -> dict[str, str]:
        out = relabel({"__name__": name, "job": "router", **labels}, rules)
        assert out is not None
        return out

    for app, (org, space) in tenants.items():
        got = series("haproxy_backend_http_responses_total", proxy=app, code="5xx")
        assert (got["app"], got["org"], got["space"]) == (app, org, space)
        got = series("haproxy_server_up", proxy=app, server=f"{app}-0")
        assert (got["org"], got["space"]) == (org, space)
    # an app in no space, frontends and the process are the foundation's: no tenant labels
    for got in (
        series("haproxy_backend_up", proxy="payments"),
        series("haproxy_frontend_http_requests_total", proxy="http"),
        series("haproxy_process_uptime_seconds"),
    ):
        assert "org" not in got and "space" not in got, got
    # names that are regex syntax stay literal
    odd = compile_rules(tenant_relabel_rules({"a.b": ("o$1", "s")}))
    assert relabel({"app": "axb"}, odd) == {"app": "axb"}
    assert relabel({"app": "a.b"}, odd) == {"app": "a.b", "org": "o$1", "space": "s"}


def _record(**fields: str) -> LogRecord:
    return LogRecord(id="1", timestamp_ns=1, message=fields.pop("message", "GET / 200"), fields=dict(fields))


def test_log_tenant_stage_labels_app_lines_only() -> None:
    label = tenant_labeller({"checkout": ("demo", "team-a")}.get)
    app_line = enrich(_record(appname="checkout", procid="0", msgid="APP", message="status=500"))
    app_line.labels.setdefault("app", "checkout")  # the syslog parser sets it from app-name
    assert label(app_line) and app_line.labels["org"] == "demo" and app_line.labels["space"] == "team-a"
    other = LogRecord(id="2", timestamp_ns=1, message="x", labels={"app": "payments"})
    assert not label(other) and "org" not in other.labels
    component = LogRecord(id="3", timestamp_ns=1, message="haproxy started", labels={"host": "cell-0"})
    assert not label(component) and "org" not in component.labels
    # a line that names its own tenant (a Cloud Foundry drain) keeps it
    drained = LogRecord(id="4", timestamp_ns=1, message="x", labels={"app": "checkout", "org": "acme"})
    assert not label(drained) and drained.labels["org"] == "acme" and "space" not in drained.labels


def test_cf_drain_lines_take_the_tenant_from_the_agents_tags_also_with_dots_in_names() -> None:
    parser = SyslogParser(registry=CollectorRegistry())
    guid = "6e2a4b8c-1d3f-4a5e-9b7c-2f1e0d9c8b7a"
    tags = {"organization_name": "acme.eu", "space_name": "prod", "app_name": "api", "app_id": guid}
    line = rfc5424(14, 1.0, "acme.eu.prod.api", guid, "[APP/PROC/WEB/0]", tags, "hello")
    record = enrich(parser.to_record(RawMessage(line.encode(), 0, "tcp", "127.0.0.1:1"), "1"))
    assert (record.labels["org"], record.labels["space"], record.labels["app"]) == ("acme.eu", "prod", "api")
    assert record.fields["sd.tags@47450.organization_name"] == "acme.eu"  # kept as a field as well
    assert record.fields["app_guid"] == guid
    # without the tags (an older agent), the hostname still names them
    bare = rfc5424(14, 1.0, "acme.prod.api", guid, "[APP/PROC/WEB/0]", {}, "hello")
    record = enrich(parser.to_record(RawMessage(bare.encode(), 0, "tcp", "127.0.0.1:1"), "2"))
    assert (record.labels["org"], record.labels["space"], record.labels["app"]) == ("acme", "prod", "api")


def test_the_same_app_name_in_two_spaces_stays_two_sources_in_the_log_store(tmp_path: Path) -> None:
    """Pattern counts and a line's context keep the two ``api`` apps (acme/prod, globex/prod) apart."""
    lines = [
        LogRecord(id=f"{i:016x}", timestamp_ns=(i + 1) * 1_000_000, message=f"GET /items {i}",
                  labels={"app": "api", "instance": "0", "org": org, "space": "prod"})
        for i, org in enumerate(["acme", "globex", "acme", "globex", "acme"])
    ]  # fmt: skip
    recorder: dict[Labels, list[float]] = {}

    class _Appender:
        def series_ref(self, labels: Labels) -> int:
            recorder.setdefault(labels, [])
            return list(recorder).index(labels)

        def append(self, refs: Sequence[int], ts: Sequence[int], values: Sequence[float]) -> None:
            keys = list(recorder)
            for ref, value in zip(refs, values, strict=True):
                recorder[keys[ref]].append(value)

    stats = PatternStats(_Appender())
    miner = TemplateMiner()
    for r in lines:
        r.pattern_id, r.template = miner.mine(r.message)
    store = TantivyStore(tmp_path / "logs", registry=CollectorRegistry())
    try:
        pipeline = standard_stages(miner, stats, store, None)
        observe = next(s.fn for s in pipeline if s.name == "stats")
        for r in lines:
            observe(r)  # type: ignore[arg-type]
        store.write(lines)
        assert stats.flush(10**18) == 2
        counts = {(dict(k)["org"], dict(k)["space"]): v[-1] for k, v in recorder.items()}
        assert counts == {("acme", "prod"): 3.0, ("globex", "prod"): 2.0}
        assert {(p.org, p.count) for p in stats.list_patterns("api")} == {("acme", 3), ("globex", 2)}
        ctx = store.context(lines[2].id, 10, 10)
        assert [r.id for r in ctx.before + ctx.after] == [lines[0].id, lines[4].id]
        hits = store.search("org:globex AND space:prod", None, None, 10, None).hits
        assert sorted(h.id for h in hits) == [lines[1].id, lines[3].id]
    finally:
        store.close()


# -- the local platform, as the demo runs it -------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("tenancy-demo"), scrape_interval_s=1.0) as running:
        yield running


def _query(demo: Demo, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{demo.api}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _configured(demo: Demo) -> dict[str, tuple[str, str]]:
    """app -> (org, space) as the demo's written config groups them (the input the data must follow)."""
    cfg = yaml.safe_load((demo.data_dir / "paramedic.yaml").read_text(encoding="utf-8"))
    return {app: tuple(t.split("/", 1)) for t, apps in cfg["platform"]["spaces"].items() for app in apps}  # type: ignore[misc]


def _has_rows(demo: Demo, q: str) -> bool:
    return bool(_query(demo, q))


def _tenant(labels: dict[str, str]) -> tuple[str, str] | None:
    return (labels["org"], labels["space"]) if "org" in labels else None


@pytest.mark.integration
def test_demo_groups_its_apps_into_two_spaces_of_one_org(demo: Demo) -> None:
    apps = sorted(demo.record()["apps"])
    configured = _configured(demo)
    assert set(configured) == set(apps)
    assert {org for org, _ in configured.values()} == {"demo"}
    assert {space for _, space in configured.values()} == {"team-a", "team-b"}
    # in the demo's order of apps, they alternate: the first in team-a, the second in team-b, ...
    ordered = [a for a in APP_NAMES if a in configured]
    assert [configured[a][1] for a in ordered] == ["team-a", "team-b"] * (len(ordered) // 2)
    assert demo_spaces(["a", "b", "c"]) == {"demo/team-a": ["a", "c"], "demo/team-b": ["b"]}


@pytest.mark.integration
def test_series_of_apps_carry_their_tenant_and_foundation_series_none(demo: Demo) -> None:
    tenants = _configured(demo)
    # app instance series (target labels) and the sample app's own metrics
    wait_until(lambda: len(_query(demo, 'up{job="app"} == 1')) >= 2 * len(tenants), 30, "app targets up")
    for expr in ('up{job="app"}', 'http_requests_total{job="app"}', "process_resident_memory_bytes"):
        rows = [r for r in _query(demo, expr) if r["metric"].get("job") == "app"]
        assert rows, expr
        for r in rows:
            assert _tenant(r["metric"]) == tenants[r["metric"]["app"]], (expr, r["metric"])
    # the router's per-app (per-backend and per-server) series: the backend is the app's
    wait_until(lambda: bool(_query(demo, "haproxy_backend_http_responses_total")), 30, "router series")
    per_app = _query(demo, 'count by (__name__, app, org, space) ({job="router", app!=""})')
    assert {r["metric"]["app"] for r in per_app} >= set(tenants)
    for r in per_app:  # and the router's own `no_route` backend is the foundation's
        assert _tenant(r["metric"]) == tenants.get(r["metric"]["app"]), r["metric"]
    # the router process, its frontends and the node are the foundation's
    for expr in ('{job="router", app=""}', '{job="node"}'):
        q = f"count by (__name__, org, space) ({expr})"
        # each target's first scrape is offset within the interval (as Prometheus spreads them): wait for it
        wait_until(partial(_has_rows, demo, q), 30, f"{expr} scraped")
        rows = _query(demo, q)
        assert all("org" not in r["metric"] and "space" not in r["metric"] for r in rows), rows[:3]
    # a recording rule of the local pack keeps the tenant of the app it aggregates
    wait_until(lambda: len(_query(demo, "app:router_requests:rate1m")) >= len(tenants), 30, "recorded rate")
    recorded = _query(demo, "app:router_requests:rate1m")
    assert {r["metric"]["app"] for r in recorded} >= set(tenants)
    for r in recorded:
        assert _tenant(r["metric"]) == tenants.get(r["metric"]["app"]), r["metric"]


def _hits(demo: Demo, q: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{demo.api}/api/v1/logs/search", params={"q": q, "limit": 200}, timeout=10)
    resp.raise_for_status()
    hits: list[dict[str, Any]] = resp.json()["data"]["hits"]
    return hits


def _sources(demo: Demo, app: str) -> set[str]:
    return {h["labels"].get("source", "") for h in _hits(demo, f"app:{app}")}


@pytest.mark.integration
def test_log_lines_of_apps_carry_their_tenant_and_are_searchable_by_it(demo: Demo) -> None:
    tenants = _configured(demo)
    first = min(tenants, key=lambda a: tenants[a])
    second = max(tenants, key=lambda a: tenants[a])
    assert tenants[first] != tenants[second]
    for app in (first, second):
        # the app's own lines (APP) and the router's access lines for it (RTR)
        wait_until(lambda a=app: _sources(demo, a) >= {"APP", "RTR"}, 30, f"{app}'s app and router lines")
        for hit in _hits(demo, f"app:{app}"):
            assert _tenant(hit["labels"]) == tenants[app], hit["labels"]
    # stored like app: a search on org/space finds exactly that space's apps
    org, space = tenants[second]
    found = {h["labels"]["app"] for h in _hits(demo, f"org:{org} AND space:{space}")}
    assert found == {a for a, t in tenants.items() if t == (org, space)}
    assert _hits(demo, f"labels.space:{space}") and not _hits(demo, "space:no-such-space")
    # every line: the tenant of its app, and none without an app (the platform's own processes)
    everything = _hits(demo, "")
    assert any("app" not in h["labels"] for h in everything) or len(everything) == 200
    for hit in everything:
        assert _tenant(hit["labels"]) == tenants.get(hit["labels"].get("app", "")), hit["labels"]


@pytest.mark.integration
def test_a_fired_alert_carries_its_apps_tenant(demo: Demo) -> None:
    tenants = _configured(demo)
    app = sorted(tenants)[0]
    rule = "AppRouter5xxRatioHigh"

    def firing() -> list[dict[str, Any]]:
        resp = httpx.get(f"{demo.api}/api/v2/alerts", params={"filter": f"alertname={rule}"}, timeout=5)
        resp.raise_for_status()
        return [a for a in resp.json() if a["labels"].get("app") == app]

    wait_until(lambda: bool(_query(demo, f'app:router_requests:rate1m{{app="{app}"}} > 1')), 30, "traffic")
    inject_fault(StateDir(demo.data_dir / "platform"), app, "errors", rate=0.5, for_s=60)
    wait_until(lambda: bool(firing()), 40, f"{rule} firing for {app}")
    alert = firing()[0]
    assert _tenant(alert["labels"]) == tenants[app], alert["labels"]
