"""SLOs on the real local platform as ``paramedic demo`` runs it (HAProxy router, supervisord cells, the
sample app under the demo's load generator): every app's SLOs get their status from the router's series, and
an errors fault on one app burns its budget fast enough to fire that app's page alert, not the other's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.demo import Demo, paramedic_cli, running_demo
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("slo-demo") / "data", apps=2, instances=1) as running:
        yield running


def _get(demo: Demo, path: str) -> Any:
    resp = httpx.get(demo.api + path, headers={"Authorization": f"Bearer {demo.admin_token}"}, timeout=10)
    resp.raise_for_status()
    return resp.json()["data"]


def _statuses(demo: Demo) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in _get(demo, "/api/v1/slo")}


def _page_alerts(demo: Demo) -> set[str]:
    alerts = _get(demo, "/api/v1/alerts")["alerts"]
    return {
        a["labels"]["app"]
        for a in alerts
        if a["labels"].get("alertname") == "SLOErrorBudgetBurn"
        and a["labels"].get("slo_severity") == "page"
        and a["state"] == "firing"
    }


def test_an_errors_fault_fires_the_apps_page_alert_only(demo: Demo) -> None:
    apps = sorted(demo.record()["apps"])
    good, bad = apps[0], apps[1]

    def measured() -> bool:
        found = _statuses(demo)
        return all(found.get(f"{a}-availability", {}).get("attainment") is not None for a in apps)

    wait_until(measured, 60, "an availability status for every app", interval_s=1)
    assert set(_statuses(demo)) == {f"{a}-{k}" for a in apps for k in ("availability", "latency")}

    injected = paramedic_cli(
        "demo", "fault", "--app", bad, "--kind", "errors", "--data-dir", str(demo.data_dir)
    )
    assert injected.returncode == 0, injected.stderr
    wait_until(lambda: bad in _page_alerts(demo), 60, f"the SLO page alert of {bad}", interval_s=1)
    assert good not in _page_alerts(demo)
    found = _statuses(demo)
    assert found[f"{bad}-availability"]["burn_rate"] > 14.4  # the page threshold it crossed
    assert (
        found[f"{bad}-availability"]["error_budget_remaining"]
        < found[f"{good}-availability"]["error_budget_remaining"]
    )
    page = httpx.get(
        f"{demo.api}/apps/{bad}", headers={"Authorization": f"Bearer {demo.admin_token}"}, timeout=10
    )
    assert page.status_code == 200 and f'data-slo="{bad}-availability"' in page.text


def test_the_demo_writes_its_slo_file(demo: Demo) -> None:
    assert (Path(demo.data_dir) / "rules" / "slos.yaml").is_file()
