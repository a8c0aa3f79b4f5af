"""Tenancy of the metrics API, tried as an attacker: a viewer of acme/prod asks the assembled server (auth
middleware, token file, embedded store, rule engine) every way out of its space.

Oracle: what a scoped principal gets must equal what a foundation-wide principal gets from a store that holds
only the series the scope covers (copied from the real store and filtered in Python by
``Scope.sees_labels``: an independent implementation of the rule, not the push-down under test). Each tenant's
samples also carry a value of their own, so a leak shows as a foreign value whatever the query did to labels.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from alerting.rules.tenancy import rule_tenant
from collector.exposition import FamilyMeta
from metrics_store.api import result_json
from metrics_store.base import Querier
from metrics_store.config import RemoteStoreConfig
from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, Matcher, MatchOp, SeriesData, labels_from
from metrics_store.promql import Engine
from metrics_store.remote import RemoteStore
from metrics_store.scoped import scoped
from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.config import parse_config
from platforms.tenancy import FOUNDATION, Grant, Scope
from tests.metrics_store.conftest import VictoriaMetrics, victoria_metrics  # noqa: F401 -- the fixture
from tests.support.servers import wait_until

CONFIG = """
server: {auth: {tokens_file: tokens.json, anonymous_read: false}}
metrics_store:
  type: embedded
  path: metrics
  query: {tenant_max_inflight_samples: 20000}
rules: {files: [rules.yml], recent_window: {enabled: false}}
"""
RULES = """
groups:
  - name: tenancy
    interval: 15s
    rules:
      - alert: ProbeUp
        expr: probe_up > 0
        labels: {severity: info}
      - alert: ProbeClash
        expr: probe_up * on(org) probe_up
"""
# One value per tenant: any of another tenant's values in a scoped answer is a leak.
TENANTS: dict[tuple[str, str], float] = {
    ("acme", "prod"): 1.0,
    ("acme", "dev"): 2.0,
    ("globex", "prod"): 3.0,
    ("", ""): 4.0,  # the foundation: the router
}
STEP_MS, POINTS = 15_000, 20
ACME_PROD = Scope.of([Grant("acme", "prod", "viewer")])
ACME = Scope.of([Grant("acme", None, "viewer")])


def _labels(name: str, org: str, space: str) -> dict[str, str]:
    if not org:
        return {"__name__": name, "job": "router", "instance": "router:9101"}
    return {"__name__": name, "app": "api", "org": org, "space": space, "job": "cf-app"}


@dataclass
class Server:
    client: TestClient
    paramedic: Paramedic
    tokens: dict[str, str]
    now_ms: int

    def get(self, who: str, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def query(self, who: str, text: str) -> dict[str, Any]:
        r = self.get(who, "/api/v1/query", query=text, time=self.now_ms / 1000)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        return data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("tmetrics")
    (tmp / "rules.yml").write_text(RULES)
    cfg = parse_config(CONFIG)
    paramedic = Paramedic(cfg, base_dir=tmp, registry=CollectorRegistry())
    store = TokenStore(tmp / "tokens.json")
    tokens = {
        "foundation": store.create("foundation", "viewer"),
        "acme-prod": store.create("acme-prod", "viewer", grants=[Grant("acme", "prod", "viewer")]),
        "acme": store.create("acme", "viewer", grants=[Grant("acme", None, "viewer")]),
    }
    # A slot ahead of the clock: the rule engine's own loop (evaluating the current slots) never reaches it
    # while the module runs, so the evaluation below is the one that sees the series.
    now_ms = (int(time.time() * 1000) // STEP_MS + 10) * STEP_MS
    with TestClient(paramedic.app, base_url="http://127.0.0.1") as client:
        for (org, space), value in TENANTS.items():
            for name in ("up", "probe_up", f"{org or 'router'}_only_total"):
                ref = paramedic.store.series_ref(labels_from(_labels(name, org, space)))
                stamps = [now_ms - i * STEP_MS for i in range(POINTS, -1, -1)]
                paramedic.store.append([ref] * len(stamps), stamps, [value] * len(stamps))
        assert paramedic.alerting is not None and paramedic.alerting.rules is not None
        assert paramedic.alerting.rules.eval_due(now_ms / 1000) == 1  # writes ALERTS for every tenant
        paramedic.metadata.observe(
            {
                f"{org or 'router'}_only": FamilyMeta(f"{org or 'router'}_only", "counter", "x")
                for org, _ in TENANTS
            }
        )
        yield Server(client, paramedic, tokens, now_ms)


def _visible_store(querier: Querier, scope: Scope, end_ms: int) -> MemoryStore:
    """Every series of ``querier`` whose labels ``scope`` covers, filtered here (not pushed down)."""
    out = MemoryStore()
    for s in querier.select([Matcher("__name__", MatchOp.RE, ".+")], 0, end_ms + 1):
        if scope.sees_labels(dict(s.labels)):
            ref = out.series_ref(s.labels)
            out.append([ref] * len(s.timestamps_ms), s.timestamps_ms.tolist(), s.values.tolist())
    return out


def _expected(server: Server, scope: Scope, text: str) -> dict[str, Any]:
    engine = Engine(
        _visible_store(server.paramedic.store, scope, server.now_ms), registry=CollectorRegistry()
    )
    return result_json(engine.instant_query(text, server.now_ms))


def _sorted(data: dict[str, Any]) -> dict[str, Any]:
    if data["resultType"] in ("vector", "matrix"):
        return {**data, "result": sorted(data["result"], key=lambda r: sorted(r["metric"].items()))}
    return data


def _values(data: dict[str, Any]) -> set[float]:
    if data["resultType"] == "vector":
        return {float(r["value"][1]) for r in data["result"]}
    if data["resultType"] == "matrix":
        return {float(v) for r in data["result"] for _, v in r["values"]}
    return {float(data["result"][1])}


ESCAPES = [
    '{__name__=~".+"}',
    'up{space=~".*"}',
    '{__name__="up", org!="acme"}',
    'up{org="globex"}',
    'label_replace(up, "space", "prod", "space", ".*")',
    'label_replace(up{space="dev"}, "space", "prod", "space", ".*")',
    'label_join(up, "space", "", "org", "space")',
    'absent(up{space="dev"})',
    'absent(up{org="globex"})',
    "count by (space) (up)",
    "count by (org, space) ({__name__=~'.+'})",
    "sum(up)",
    "up or on() vector(1)",
    'up unless up{space="dev"}',
    'vector(1) unless on() up{org="globex"}',
    "max_over_time(up[5m:1m])",
    'max_over_time(up{space="dev"}[5m:1m])',
    "up @ end()",
    "up offset 1m",
    '{__name__=~".+"} offset -1m',
    '{__name__=~".+"} offset 5m @ start()',
    'absent_over_time(up{org="globex"}[5m])',
    'count_values("v", {__name__=~".+"})',
    'last_over_time({__name__=~".+"}[1h])',
    'sum_over_time(up{space=~"dev|prod"}[5m] @ end())',
    "group by (__name__) ({job=~'.+'})",
    "ALERTS",
    'ALERTS{alertname="ProbeUp", org!="acme"}',
    "ALERTS_FOR_STATE",
    "count(ALERTS) by (org, space)",
    "router_only_total",
    "topk(10, {__name__=~'.+_total'})",
    # Prometheus 3's quoted UTF-8 names and `.` matching newlines: no way around the scope either
    '{"up", "org"="globex"}',
    '{"router_only_total"}',
    'sum by ("org", "space") ({"up"})',
    'label_replace({"up"}, "space.x", "prod", "space", "(?s).*")',
    '{"probe_up", "space"=~"d.v|.*\\n.*"}',
]


@pytest.mark.parametrize("text", ESCAPES)
def test_a_space_viewer_cannot_query_its_way_out(server: Server, text: str) -> None:
    got = server.query("acme-prod", text)
    assert _sorted(got) == _sorted(_expected(server, ACME_PROD, text))
    foreign = {v for tenant, v in TENANTS.items() if tenant != ("acme", "prod")}
    if "count" not in text and "absent" not in text and "vector(1)" not in text:
        assert not _values(got) & foreign


def test_absent_does_not_tell_whether_another_tenant_has_the_series(server: Server) -> None:
    there = server.query("acme-prod", 'absent(up{org="globex", space="prod"})')
    not_there = server.query("acme-prod", 'absent(up{org="globex", space="nowhere"})')
    assert [r["value"][1] for r in there["result"]] == [r["value"][1] for r in not_there["result"]] == ["1"]
    assert server.query("foundation", 'absent(up{org="globex", space="prod"})')["result"] == []


def test_range_queries_are_scoped_too(server: Server) -> None:
    r = server.get(
        "acme-prod",
        "/api/v1/query_range",
        query='label_replace({__name__=~".+"}, "org", "acme", "org", ".*")',
        start=(server.now_ms - 10 * STEP_MS) / 1000,
        end=server.now_ms / 1000,
        step=15,
    )
    assert r.status_code == 200, r.text
    values = _values(r.json()["data"])
    assert 1.0 in values and not values & {2.0, 3.0, 4.0}


def test_the_foundation_sees_everything_and_an_org_both_its_spaces(server: Server) -> None:
    for who, scope in (("foundation", FOUNDATION), ("acme", ACME)):
        got = server.query(who, "count by (org, space) (up)")
        assert _sorted(got) == _sorted(_expected(server, scope, "count by (org, space) (up)"))
    spaces = {r["metric"].get("space", "") for r in server.query("acme", "up")["result"]}
    assert spaces == {"prod", "dev"}
    assert {r["metric"].get("org", "") for r in server.query("foundation", "up")["result"]} == {
        "acme",
        "globex",
        "",
    }


MATCHES = [
    ['{__name__=~".+"}'],
    ['{space=~".+"}', '{space=~".*", job=~".+"}'],
    ['{org!="acme", job=~".+"}', 'up{org!="acme"}'],
    ['up{space="dev"}', 'up{org="globex"}', '{job="router"}'],
    ['{__name__=~"ALERTS.*"}'],
]


def _series(server: Server, who: str, path: str, match: list[str]) -> list[Any]:
    r = server.client.get(
        path,
        params=[("match[]", m) for m in match],
        headers={"Authorization": f"Bearer {server.tokens[who]}"},
    )
    assert r.status_code == 200, r.text
    data: list[Any] = r.json()["data"]
    return data


@pytest.mark.parametrize("match", MATCHES, ids=[" ".join(m) for m in MATCHES])
def test_series_labels_and_values_with_crafted_match(server: Server, match: list[str]) -> None:
    everything = _series(server, "foundation", "/api/v1/series", match)
    visible = [s for s in everything if ACME_PROD.sees_labels(s)]
    got = _series(server, "acme-prod", "/api/v1/series", match)
    assert sorted(map(str, got)) == sorted(map(str, visible))
    names = _series(server, "acme-prod", "/api/v1/labels", match)
    assert names == sorted({k for s in visible for k in s})
    for label in ("space", "org", "job", "__name__", "alertname"):
        values = _series(server, "acme-prod", f"/api/v1/label/{label}/values", match)
        assert values == sorted({s[label] for s in visible if label in s})


@pytest.mark.parametrize("path", ["/api/v1/query", "/api/v1/series", "/api/v1/labels"])
def test_post_forms_as_grafana_sends_them_are_scoped_too(server: Server, path: str) -> None:
    form = {"query": 'count by (org, space) ({__name__=~".+"})', "time": str(server.now_ms / 1000)}
    if path != "/api/v1/query":
        form = {"match[]": '{__name__=~".+", org=~".*"}'}

    def post(who: str, body: dict[str, str], query: dict[str, str]) -> Any:
        headers = {"Authorization": f"Bearer {server.tokens[who]}"}
        r = server.client.post(path, data=body, params=query, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    got = post("acme-prod", form, {})
    # the body wins over the URL (Go's FormValue): an unscoped-looking URL changes nothing
    assert post("acme-prod", form, {k: v.replace("org=~", "space=~") for k, v in form.items()}) == got
    # and a POST answers what a GET answers (whose scoping the tests above check)
    r = server.get("acme-prod", path, **form)
    assert r.status_code == 200 and r.json()["data"] == got
    if path != "/api/v1/labels":
        text = json.dumps(got)
        assert "acme" in text and "globex" not in text and '"dev"' not in text
        assert "globex" in json.dumps(post("foundation", form, {}))


def test_label_values_of_escaped_names_stay_in_scope(server: Server) -> None:
    # Prometheus 3 names a label in the path U__-escaped: the same label, the same scope
    assert _series(server, "acme-prod", "/api/v1/label/U__org/values", []) == ["acme"]
    assert _series(server, "acme-prod", "/api/v1/label/U__sp_61_ce/values", []) == ["prod"]
    assert "router" not in _series(server, "acme-prod", "/api/v1/label/U__job/values", [])
    assert "router" in _series(server, "foundation", "/api/v1/label/U__job/values", [])


def test_label_values_without_match(server: Server) -> None:
    names = _series(server, "acme-prod", "/api/v1/label/__name__/values", [])
    assert "acme_only_total" in names and not {"globex_only_total", "router_only_total"} & set(names)
    assert _series(server, "acme-prod", "/api/v1/label/space/values", []) == ["prod"]
    assert _series(server, "acme-prod", "/api/v1/label/org/values", []) == ["acme"]
    assert "router" not in _series(server, "acme-prod", "/api/v1/label/job/values", [])
    assert _series(server, "acme", "/api/v1/label/space/values", []) == ["dev", "prod"]
    assert "router" in _series(server, "foundation", "/api/v1/label/job/values", [])


def test_the_configuration_is_the_foundations(server: Server) -> None:
    refused = server.get("acme-prod", "/api/v1/status/config")
    assert refused.status_code == 403 and "viewer of acme/prod" in refused.json()["error"]
    assert "tokens.json" in server.get("foundation", "/api/v1/status/config").json()["data"]["yaml"]


def test_exemplars_and_metadata(server: Server) -> None:
    r = server.get("acme-prod", "/api/v1/query_exemplars", query='{__name__=~".+"}')
    assert r.status_code == 200 and r.json()["data"] == []
    scoped = server.get("acme-prod", "/api/v1/metadata").json()["data"]
    everything = server.get("foundation", "/api/v1/metadata").json()["data"]
    assert {"acme_only", "globex_only", "router_only"} <= set(everything)
    assert "acme_only" in scoped and not {"globex_only", "router_only"} & set(scoped)
    assert server.get("acme-prod", "/api/v1/metadata", metric="globex_only").json()["data"] == {}


def _alert_tenants(alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a["labels"].get("org", ""), a["labels"].get("space", "")) for a in alerts}


def test_alerts_api_shows_only_the_scopes_alerts(server: Server) -> None:
    scoped = server.get("acme-prod", "/api/v1/alerts").json()["data"]["alerts"]
    assert _alert_tenants(scoped) == {("acme", "prod")}
    everything = server.get("foundation", "/api/v1/alerts").json()["data"]["alerts"]
    assert _alert_tenants(everything) == set(TENANTS)
    assert _alert_tenants(server.get("acme", "/api/v1/alerts").json()["data"]["alerts"]) == {
        ("acme", "prod"),
        ("acme", "dev"),
    }


def _rules(server: Server, who: str) -> dict[str, dict[str, Any]]:
    groups = server.get(who, "/api/v1/rules").json()["data"]["groups"]
    return {r["name"]: r for g in groups for r in g["rules"]}


def test_rules_api_filters_alerts_and_hides_errors(server: Server) -> None:
    scoped, everything = _rules(server, "acme-prod"), _rules(server, "foundation")
    assert set(scoped) == set(everything) == {"ProbeUp", "ProbeClash"}
    assert _alert_tenants(scoped["ProbeUp"]["alerts"]) == {("acme", "prod")}
    assert len(everything["ProbeUp"]["alerts"]) == len(TENANTS)
    # the clash rule fails on acme's two spaces: the foundation reads the error, the tenant does not
    assert everything["ProbeClash"]["health"] == "err" and "acme" in everything["ProbeClash"]["lastError"]
    assert scoped["ProbeClash"]["health"] == "err"
    hidden = scoped["ProbeClash"]["lastError"]
    assert not any(word in hidden for word in ("acme", "globex", "dev", "router"))


def test_a_tenant_query_over_its_sample_share_is_refused_with_429(server: Server) -> None:
    text = "count_over_time(up[6h:1s])"  # 21,600 steps: far over the 20,000 share
    r = server.get("acme-prod", "/api/v1/query", query=text, time=server.now_ms / 1000)
    assert r.status_code == 429, r.text
    assert r.json()["errorType"] == "unavailable"
    assert "tenant_max_inflight_samples" in r.json()["error"]
    foundation = server.get("foundation", "/api/v1/query", query=text, time=server.now_ms / 1000)
    assert foundation.status_code == 200, foundation.text  # foundation-wide: only the global limits
    refused = server.paramedic.registry.get_sample_value(
        "paramedic_metrics_api_tenant_refusals_total", {"reason": "inflight_samples"}
    )
    assert refused is not None and refused >= 1


class _Recorder:
    """The store under a ScopedQuerier: records what each call asked and got back."""

    def __init__(self, inner: Querier) -> None:
        self.inner = inner
        self.calls: list[tuple[list[Matcher], list[Labels]]] = []

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        got = self.inner.select(matchers, start_ms, end_ms)
        self.calls.append((list(matchers), [s.labels for s in got]))
        return got

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        got = self.inner.series(matchers, start_ms, end_ms)
        self.calls.append((list(matchers), got))
        return got


def test_the_scope_is_pushed_down_to_victoria_metrics(victoria_metrics: VictoriaMetrics) -> None:  # noqa: F811
    store = RemoteStore(
        RemoteStoreConfig(type="remote", write_url=victoria_metrics.url, read_url=victoria_metrics.url),
        registry=CollectorRegistry(),
    )
    name = f"tm_probe_{int(time.time() * 1000)}"
    now_ms = int(time.time() * 1000)
    try:
        refs = [store.series_ref(labels_from(_labels(name, org, space))) for org, space in TENANTS]
        store.append(refs, [now_ms] * len(refs), list(TENANTS.values()))
        everything = [Matcher("__name__", MatchOp.EQ, name)]

        def written() -> bool:
            victoria_metrics.flush()
            return len(store.series(everything, now_ms - 1000, now_ms + 1000)) == len(TENANTS)

        wait_until(written, 20, "VictoriaMetrics to show the series")
        recorder = _Recorder(store)
        engine = Engine(scoped(recorder, ACME_PROD), registry=CollectorRegistry())
        got = engine.instant_query(f'count by (org, space) ({{__name__=~"{name}|x", space=~".*"}})', now_ms)
        assert result_json(got)["result"] == [
            {"metric": {"org": "acme", "space": "prod"}, "value": [now_ms / 1000, "1"]}
        ]
        found = scoped(recorder, ACME_PROD).series(
            [Matcher("space", MatchOp.NE, "prod"), *everything], 0, now_ms + 1
        )
        assert found == []
        # every call carried the scope's equality matchers, and VictoriaMetrics itself returned nothing else
        assert recorder.calls
        for matchers, returned in recorder.calls:
            assert {(m.name, m.op, m.value) for m in matchers} >= {
                ("org", MatchOp.EQ, "acme"),
                ("space", MatchOp.EQ, "prod"),
            }
            assert all(ACME_PROD.sees_labels(dict(labels)) for labels in returned)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("expr", "labels", "tenant"),
    [
        ("probe_up > 0", {}, None),
        ("probe_up > 0", {"org": "acme", "space": "prod"}, ("acme", "prod")),
        ('rate(x{org="acme",space="dev"}[5m]) / rate(y{space="dev",org="acme"}[5m])', {}, ("acme", "dev")),
        ('x{org="acme",space="dev"} or x{org="acme",space="prod"}', {}, ("acme", None)),
        ('x{org="acme"} or x{org="globex"}', {}, None),
        ('x{org="acme"} or x', {}, None),
        ('x{org=~"acme"}', {}, None),
        ("vector(1)", {}, None),
        ("not promql (", {}, None),
        ("probe_up > 0", {"org": "{{ $labels.org }}"}, None),  # a template names each alert's org
        ('x{org="acme"} > 0', {"org": "{{ $labels.org }}"}, ("acme", None)),
        ("probe_up > 0", {"org": "acme", "space": "{{ $labels.space }}"}, ("acme", None)),
    ],
)
def test_a_rules_tenant_is_its_labels_or_what_every_selector_pins(
    expr: str, labels: dict[str, str], tenant: tuple[str, str | None] | None
) -> None:
    assert rule_tenant(expr, labels) == tenant
