"""``/api/v1/slo`` of the assembled server, tried by a space viewer: it sees its own space's SLOs only, and
another space's SLO answers exactly like one that does not exist (404). The SLO rules loaded from
``rules.slo_files`` run in the rule manager and keep the tenant labels."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from alerting.rules import RuleFileError
from metrics_store.model import labels_from
from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.config import parse_config
from platforms.tenancy import Grant

CONFIG = """
server: {auth: {tokens_file: tokens.json, anonymous_read: false}}
metrics_store: {type: embedded, path: metrics}
rules: {slo_files: [slos.yaml], recent_window: {enabled: false}}
"""
SLOS = """
slos:
  - {name: web-availability, org: acme, space: prod, app: web, objective: 99, sli: {type: availability}}
  - {name: shop-availability, org: globex, space: dev, app: shop, objective: 99, sli: {type: availability}}
"""
# error share of each tenant's app: a leak would show as the other one's attainment
ERRORS = {("acme", "prod", "web"): 0.005, ("globex", "dev", "shop"): 0.02}
STEP_S = 60


@dataclass
class Server:
    client: TestClient
    paramedic: Paramedic
    tokens: dict[str, str]
    now_s: int

    def get(self, who: str, path: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.get(path, params={"end": self.now_s}, headers=headers)


def _append(paramedic: Paramedic, now_s: int) -> None:
    for (org, space, app), share in ERRORS.items():
        base = {"__name__": "haproxy_backend_http_responses_total", "org": org, "space": space, "app": app}
        good = paramedic.store.series_ref(labels_from({**base, "code": "2xx"}))
        bad = paramedic.store.series_ref(labels_from({**base, "code": "5xx"}))
        stamps = [(now_s - i * STEP_S) * 1000 for i in range(180, -1, -1)]
        n = len(stamps)
        paramedic.store.append([good] * n, stamps, [600.0 * (1 - share) * i for i in range(n)])
        paramedic.store.append([bad] * n, stamps, [600.0 * share * i for i in range(n)])
        # the scoped app list of the pages: apps scraped as job="app" (up to now_s, past the real now)
        up = paramedic.store.series_ref(labels_from({"__name__": "up", "job": "app", "org": org,
                                                     "space": space, "app": app}))  # fmt: skip
        paramedic.store.append([up] * n, stamps, [1.0] * n)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("tslo")
    (tmp / "slos.yaml").write_text(SLOS)
    paramedic = Paramedic(parse_config(CONFIG), base_dir=tmp, registry=CollectorRegistry())
    store = TokenStore(tmp / "tokens.json")
    tokens = {
        "foundation": store.create("foundation", "viewer"),
        "acme-prod": store.create("acme-prod", "viewer", grants=[Grant("acme", "prod", "viewer")]),
        "globex": store.create("globex", "viewer", grants=[Grant("globex", None, "viewer")]),
    }
    now_s = (int(time.time()) // STEP_S + 10) * STEP_S  # a slot the rule engine's own loop never reaches
    with TestClient(paramedic.app, base_url="http://127.0.0.1") as client:
        _append(paramedic, now_s)
        assert paramedic.alerting is not None and paramedic.alerting.rules is not None
        paramedic.alerting.rules.eval_due(now_s)
        yield Server(client, paramedic, tokens, now_s)


def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_foundation_sees_every_slo_with_its_attainment(server: Server) -> None:
    got = {s["key"]: s for s in _data(server.get("foundation", "/api/v1/slo"))}
    assert set(got) == {"acme/prod/web-availability", "globex/dev/shop-availability"}
    for (org, space, app), share in ERRORS.items():
        status = got[f"{org}/{space}/{app}-availability"]
        assert status["attainment"] == pytest.approx(1 - share, rel=1e-3)
        assert status["error_budget_remaining"] == pytest.approx(1 - share / 0.01, rel=1e-2)
        assert status["burn_rate"] == pytest.approx(share / 0.01, rel=1e-2)


def test_a_space_viewer_sees_only_its_own_slos(server: Server) -> None:
    mine = _data(server.get("acme-prod", "/api/v1/slo"))
    theirs = _data(server.get("globex", "/api/v1/slo"))
    assert [s["key"] for s in mine] == ["acme/prod/web-availability"]
    assert [s["key"] for s in theirs] == ["globex/dev/shop-availability"]
    everything = {s["key"]: s for s in _data(server.get("foundation", "/api/v1/slo"))}
    assert mine[0] == everything["acme/prod/web-availability"]
    assert theirs[0] == everything["globex/dev/shop-availability"]


def test_another_spaces_slo_is_not_found_like_a_missing_one(server: Server) -> None:
    own = server.get("acme-prod", "/api/v1/slo/acme/prod/web-availability")
    assert _data(own)["attainment"] == pytest.approx(1 - 0.005, rel=1e-3)
    foreign = server.get("acme-prod", "/api/v1/slo/globex/dev/shop-availability")
    missing = server.get("acme-prod", "/api/v1/slo/acme/prod/no-such-slo")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.text == missing.text
    assert "shop" not in foreign.text and "0.98" not in foreign.text


def test_the_generated_rules_run_and_keep_the_tenant_labels(server: Server) -> None:
    body = server.client.get(
        "/api/v1/query",
        params={"query": "slo:sli_error:ratio_rate5m", "time": server.now_s},
        headers={"Authorization": f"Bearer {server.tokens['acme-prod']}"},
    ).json()
    (sample,) = body["data"]["result"]
    assert sample["metric"]["org"] == "acme" and sample["metric"]["space"] == "prod"
    assert float(sample["value"][1]) == pytest.approx(0.005, rel=1e-2)
    rules = _data(server.get("foundation", "/api/v1/rules"))
    assert any(g["name"] == "slo-alerts-acme/prod/web-availability" for g in rules["groups"])


def test_the_rules_api_lists_no_other_tenants_slo_rules(server: Server) -> None:
    def listed(who: str) -> str:
        groups = _data(server.get(who, "/api/v1/rules"))["groups"]
        return json.dumps(groups)

    everything = listed("foundation")
    assert "shop-availability" in everything and "web-availability" in everything
    mine, theirs = listed("acme-prod"), listed("globex")
    assert "web-availability" in mine and "shop-availability" in theirs
    # another space's SLO is not found in the rules either: no group, rule, query or label names it
    for text, foreign in ((mine, ("shop", "globex", '"dev"')), (theirs, ("web", "acme", '"prod"'))):
        assert not [f for f in foreign if f in text], (foreign, text[:400])


def test_a_bad_slo_file_stops_the_server_naming_file_and_key(tmp_path: Any) -> None:
    (tmp_path / "slos.yaml").write_text(SLOS.replace("objective: 99,", "objective: 100,", 1))
    with pytest.raises(RuleFileError) as caught:
        Paramedic(parse_config(CONFIG), base_dir=tmp_path, registry=CollectorRegistry())
    assert "slos.yaml:3: slos[0].objective" in str(caught.value)


def _page(server: Server, who: str, app: str) -> httpx.Response:
    return server.client.get(f"/apps/{app}", headers={"Authorization": f"Bearer {server.tokens[who]}"})


def test_the_app_page_shows_the_error_budget(server: Server) -> None:
    for who in ("foundation", "acme-prod"):
        page = _page(server, who, "web")
        assert page.status_code == 200, page.text
        assert 'id="slos"' in page.text and 'data-slo="web-availability"' in page.text
        # 0.5 % errors against a 1 % budget: half of it left; burning at 0.5x
        assert "99.500 %" in page.text and "50.0 %" in page.text and "0.50×" in page.text
        assert "shop-availability" not in page.text


def test_another_tenants_app_page_and_slo_stay_hidden(server: Server) -> None:
    assert _page(server, "globex", "web").status_code == 404
    page = _page(server, "globex", "shop")
    assert page.status_code == 200
    assert 'data-slo="shop-availability"' in page.text and "web-availability" not in page.text


def test_the_slo_metrics_count_what_the_api_computed(server: Server) -> None:
    registry = server.paramedic.registry
    assert registry.get_sample_value("paramedic_slos") == 2
    before = registry.get_sample_value("paramedic_slo_status_total") or 0.0
    _data(server.get("acme-prod", "/api/v1/slo"))
    assert registry.get_sample_value("paramedic_slo_status_total") == before + 1
    assert registry.get_sample_value("paramedic_slo_status_errors_total") == 0
