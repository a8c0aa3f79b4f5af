"""The app page's SLO reader narrows to the page's space: on Cloud Foundry the same app name lives in several
spaces, and one app's page must list its own SLOs only (the viewer's scope filters on top)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from alerting.slo import load_slo_files
from metrics_store.embedded.store import EmbeddedStore
from paramedic.dashboard import SloStatuses
from platforms.tenancy import Grant, Scope

SLOS = """
slos:
  - {name: api-prod, org: acme, space: prod, app: api, objective: 99.9, sli: {type: availability}}
  - {name: api-dev, org: acme, space: dev, app: api, objective: 99, sli: {type: availability}}
  - {name: web-prod, org: acme, space: prod, app: web, objective: 99, sli: {type: availability}}
"""


def test_an_apps_slos_are_those_of_its_space(tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(SLOS)
    slos = load_slo_files([tmp_path / "slos.yaml"])
    store = EmbeddedStore(tmp_path / "store", background=False, registry=CollectorRegistry())
    try:
        reader = SloStatuses(lambda: slos, store)
        assert sorted(s["name"] for s in reader.for_app("api")) == ["api-dev", "api-prod"]
        assert [s["name"] for s in reader.for_app("api", ("acme", "prod"))] == ["api-prod"]
        assert [s["name"] for s in reader.for_app("api", ("acme", "dev"))] == ["api-dev"]
        dev_viewer = reader.scoped(Scope.of([Grant("acme", "dev", "viewer")]))
        assert [s["name"] for s in dev_viewer.for_app("api", ("acme", "prod"))] == []
    finally:
        store.close()
