"""``/api/v1/metadata`` for a tenant, through real scrapes: two apps of two tenants expose the same family
``orders_total`` with HELP texts of their own (a family name is shared, its HELP need not be), and a
foundation exporter exposes ``router_requests_total``, whose series a relabel gives each tenant.

The registry used to keep one list of (type, help, unit) per family name whoever exposed it, so a viewer of
acme/prod saw globex's HELP text for ``orders_total`` (the family has a series in its scope, its own). Now
a variant is shown to a tenant only when a target of that tenant or of the foundation exposed it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.config import parse_config
from platforms.tenancy import Grant
from tests.support.servers import served_in_thread, wait_until

pytestmark = pytest.mark.integration

ACME_HELP = "Orders placed through the acme storefront."
GLOBEX_HELP = "Orders of globex project hydra, codename nightjar."
ROUTER_HELP = "Requests the router forwarded."
REJECTED_HELP = "Orders of a target whose scrapes sample_limit rejects."


def _exporter(help_text: str, extra: str = "") -> FastAPI:
    app = FastAPI()
    body = f"# HELP orders_total {help_text}\n# TYPE orders_total counter\norders_total 3\n{extra}"

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(body, media_type="text/plain; version=0.0.4")

    return app


def _router() -> FastAPI:
    app = FastAPI()
    body = (
        f"# HELP router_requests_total {ROUTER_HELP}\n# TYPE router_requests_total counter\n"
        'router_requests_total{backend="acme"} 5\nrouter_requests_total{backend="globex"} 7\n'
    )

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(body, media_type="text/plain; version=0.0.4")

    return app


@dataclass
class Server:
    client: TestClient
    tokens: dict[str, str]

    def metadata(self, who: str, **params: Any) -> dict[str, list[str]]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        r = self.client.get("/api/v1/metadata", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return {name: sorted(v["help"] for v in variants) for name, variants in r.json()["data"].items()}

    def rejected_scrapes(self) -> float:
        """How many scrapes of the ``rejected`` job failed (``sample_limit``)."""
        r = self.client.get(
            "/api/v1/query",
            params={"query": 'count_over_time(up{job="rejected"}[1m])'},
            headers={"Authorization": f"Bearer {self.tokens['foundation']}"},
        )
        result = r.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0


def _config(acme: str, globex: str, router: str, rejected: str) -> str:
    def job(name: str, url: str, labels: str) -> str:
        return f"  - {{name: {name}, type: static, targets: ['{url}'], labels: {{{labels}}}}}\n"

    # the router's series get each tenant's labels by relabeling (the demo's haproxy does the same)
    relabel = (
        "    metric_relabel_configs:\n"
        "    - {source_labels: [backend], regex: acme, target_label: org, replacement: acme}\n"
        "    - {source_labels: [backend], regex: acme, target_label: space, replacement: prod}\n"
    )
    return (
        "server: {auth: {tokens_file: tokens.json, anonymous_read: false}}\n"
        "metrics_store: {type: embedded, path: metrics}\n"
        "collector:\n  interval_s: 0.2\n  timeout_s: 1\n  jobs:\n"
        + job("acme-app", acme, "org: acme, space: prod, app: shop")
        + job("globex-app", globex, "org: globex, space: prod, app: shop")
        + f"  - name: router\n    type: static\n    targets: ['{router}']\n"
        + relabel
        # its scrapes exceed sample_limit and are rejected: they must leave no metadata either
        + f"  - {{name: rejected, type: static, targets: ['{rejected}'], sample_limit: 1}}\n"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("tmetadata")
    with (
        served_in_thread(_exporter(ACME_HELP), name="acme-app") as acme,
        served_in_thread(_exporter(GLOBEX_HELP), name="globex-app") as globex,
        served_in_thread(_router(), name="router") as router,
        served_in_thread(_exporter(REJECTED_HELP, 'orders_total{x="1"} 4\n'), name="rejected") as rejected,
    ):
        urls = [u.removeprefix("http://") for u in (acme, globex, router, rejected)]
        cfg = parse_config(_config(*urls))
        paramedic = Paramedic(cfg, base_dir=tmp, registry=CollectorRegistry())
        store = TokenStore(tmp / "tokens.json")
        tokens = {
            "foundation": store.create("foundation", "viewer"),
            "acme-prod": store.create("acme-prod", "viewer", grants=[Grant("acme", "prod", "viewer")]),
            "globex": store.create("globex", "viewer", grants=[Grant("globex", None, "viewer")]),
        }
        with TestClient(paramedic.app, base_url="http://127.0.0.1") as client:
            s = Server(client, tokens)

            def scraped() -> bool:
                seen = s.metadata("foundation")
                helps = seen.get("orders_total", [])
                return ACME_HELP in helps and GLOBEX_HELP in helps and "router_requests_total" in seen

            wait_until(scraped, 30, "both apps and the router scraped", interval_s=0.1)
            # the scoped view reads the families from the store: wait until the samples are queryable
            wait_until(lambda: "orders_total" in s.metadata("acme-prod"), 30, "acme's series", interval_s=0.1)
            wait_until(lambda: s.rejected_scrapes() >= 2, 30, "the rejected target scraped", interval_s=0.1)
            yield s


def test_a_tenant_sees_only_the_help_its_own_targets_expose(server: Server) -> None:
    assert server.metadata("foundation")["orders_total"] == sorted([ACME_HELP, GLOBEX_HELP])
    acme = server.metadata("acme-prod")
    assert acme["orders_total"] == [ACME_HELP], acme
    assert server.metadata("acme-prod", metric="orders_total") == {"orders_total": [ACME_HELP]}
    assert server.metadata("globex")["orders_total"] == [GLOBEX_HELP]


def test_a_foundation_exporters_help_is_shown_where_the_tenant_has_its_series(server: Server) -> None:
    # the router (no org of its own) exposes the family; acme has series of it by relabeling, globex none
    assert server.metadata("acme-prod")["router_requests_total"] == [ROUTER_HELP]
    assert "router_requests_total" not in server.metadata("globex")


def test_the_foreign_help_is_in_no_scoped_answer(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.tokens['acme-prod']}"}
    for params in ({}, {"metric": "orders_total"}, {"limit": "100"}):
        body = server.client.get("/api/v1/metadata", params=params, headers=headers).text
        assert "nightjar" not in body, (params, body)


def test_a_scrape_that_its_limits_reject_leaves_no_metadata(server: Server) -> None:
    assert REJECTED_HELP not in server.metadata("foundation")["orders_total"]
