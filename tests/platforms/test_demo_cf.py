"""``paramedic demo --platform cloudfoundry`` end to end: the simulated foundation as the demo's child,
Paramedic discovering its apps through the CC and reading Log Cache, ``demo fault`` by ``org/space/name``,
the foundation's secrets kept off the terminal, and no orphans after SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from paramedic.demo import DemoError, local_app_for
from platforms.cf_sim.foundation import guid_for
from platforms.local.processes import pid_start_time
from tests.support.demo import Demo, descendants, processes_mentioning, running_demo
from tests.support.demo import paramedic_cli as _cli
from tests.support.servers import wait_until

# (org, space, name) -> the local app behind it: the default foundation's layout, written out here
CF_APPS = {
    ("acme", "prod", "api"): "api-acme-prod",
    ("acme", "prod", "web"): "web-acme-prod",
    ("acme", "dev", "api"): "api-acme-dev",
    ("globex", "prod", "api"): "api-globex-prod",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("cfdemo")
    with running_demo(
        data_dir, scrape_interval_s=1, instances=1, platform="cloudfoundry", start_timeout_s=120
    ) as running:
        yield running


def _query(demo: Demo, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{demo.api}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@pytest.mark.integration
def test_paramedic_discovers_the_cf_apps_through_the_cc(demo: Demo) -> None:
    want = {(guid_for("app", o, s, n), o, s) for o, s, n in CF_APPS}

    def app_targets() -> set[tuple[str, str, str]]:
        body = httpx.get(f"{demo.api}/api/v1/targets", timeout=5).json()
        return {
            (t["labels"].get("app_guid", ""), t["labels"].get("org", ""), t["labels"].get("space", ""))
            for t in body["data"]["activeTargets"]
            if t["labels"].get("job") == "app"
        }

    wait_until(lambda: want <= app_targets(), 60, "a target per CF app with app_guid, org and space labels")
    assert app_targets() == want


@pytest.mark.integration
def test_log_cache_series_are_queryable_from_paramedic(demo: Demo) -> None:
    acme_api = guid_for("app", "acme", "prod", "api")
    wait_until(lambda: bool(_query(demo, f'cpu{{app_guid="{acme_api}"}}')), 60, "cpu of acme/prod/api")
    wait_until(lambda: bool(_query(demo, "CapacityRemainingMemory")), 30, "the cells' remaining memory")
    cells = _query(demo, "CapacityRemainingMemory")
    assert all(float(r["value"][1]) > 0 for r in cells), cells


@pytest.mark.integration
def test_the_capacity_outlook_reads_the_simulated_diego_cells(demo: Demo) -> None:
    """The rep's gauges as they land from Log Cache (containers too: the capacity pack is polled by default)
    and the apps' memory quotas give the outlook its cells and chunk."""
    wait_until(lambda: bool(_query(demo, "memory_quota")), 60, "the app containers' memory quotas")
    answer: dict[str, Any] = {}

    def ready() -> bool:
        answer.clear()
        answer.update(httpx.get(f"{demo.api}/api/v1/capacity", timeout=30).json())
        cells = answer.get("cells") or []
        return (
            len(cells) == 2
            and all(c["containers_remaining"] is not None for c in cells)
            and answer["chunk_from"] == "largest app instance memory quota"
        )

    # the server keeps an outlook a minute: one computed before the quotas landed may be served until then
    wait_until(
        ready, 150, "two Diego cells, their slots and the largest quota in /api/v1/capacity", interval_s=2
    )
    assert (answer["source"], answer["chunk_from"]) == ("diego", "largest app instance memory quota")
    chunk = answer["chunk_mib"]
    assert chunk > 0
    assert answer["memory"]["free_chunks"] == sum(
        int(c["memory_remaining_mib"] // chunk) for c in answer["cells"]
    )
    assert all(c["memory_total_mib"] == 4096 for c in answer["cells"])  # DiegoConfig's cells
    assert answer["n_plus_one"] is not None


@pytest.mark.integration
def test_foundation_secrets_stay_in_a_private_file(demo: Demo) -> None:
    record = demo.record()
    creds_file = demo.data_dir / "cf-credentials.json"
    assert record["cf_credentials_file"] == str(creds_file)
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    creds = json.loads(creds_file.read_text())
    assert creds["cc_url"] == record["cc_url"] and creds["log_cache_url"] == record["log_cache_url"]
    terminal = demo.proc.log_tail(500)
    assert record["cc_url"] in terminal and str(creds_file) in terminal  # the banner names them
    secrets = [*creds["users"].values(), *(s for s in creds["clients"].values() if s)]
    assert secrets and not [s for s in secrets if s in terminal]
    cf_log = (demo.data_dir / "logs" / "cf-stack.log").read_text()
    assert not [s for s in secrets if s in cf_log]
    # the CC answers the admin user with the password from the file (the banner's cf-style curl)
    token = httpx.post(
        f"{creds['uaa_url']}/oauth/token",
        data={"grant_type": "password", "username": "admin", "password": creds["users"]["admin"]},
        auth=("cf", ""),
        timeout=5,
    ).json()["access_token"]
    apps = httpx.get(
        f"{creds['cc_url']}/v3/apps", headers={"Authorization": f"bearer {token}"}, timeout=5
    ).json()
    assert {a["guid"] for a in apps["resources"]} == {guid_for("app", *p) for p in CF_APPS}


def _faults(port: int) -> list[str]:
    return [f["kind"] for f in httpx.get(f"http://127.0.0.1:{port}/_fault", timeout=5).json()]


@pytest.mark.integration
def test_demo_fault_by_org_space_name_reaches_only_that_app(demo: Demo) -> None:
    record = demo.record()
    acme, globex = record["apps"]["api-acme-prod"]["0"], record["apps"]["api-globex-prod"]["0"]
    out = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "acme/prod/api",
               "--kind", "errors", "--rate", "1", "--for-s", "30")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "injected errors into api-acme-prod instance 0" in out.stdout
    try:
        assert _faults(acme) == ["errors"] and _faults(globex) == []
        router = record["router_url"]

        def status(app: str) -> int:
            return httpx.get(f"{router}/api/items", headers={"Host": f"{app}.local"}, timeout=5).status_code

        assert status("api-acme-prod") == 500
        assert status("api-globex-prod") == 200
    finally:
        httpx.delete(f"http://127.0.0.1:{acme}/_fault", timeout=5)


@pytest.mark.integration
def test_demo_fault_names_the_valid_cf_apps(demo: Demo) -> None:
    out = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "acme/qa/api", "--kind", "errors")
    assert out.returncode == 1
    assert "no Cloud Foundry app 'acme/qa/api'" in out.stderr
    assert "acme/prod/api, acme/prod/web, acme/dev/api, globex/prod/api" in out.stderr


@pytest.mark.integration
def test_demo_deploy_starts_a_canary_through_the_cloud_controller(demo: Demo) -> None:
    """`paramedic demo deploy` on the CF demo: the new revision is found through the CC and deployed as a
    canary by Paramedic with the CF gates (the judging itself is tests/cloudfoundry_e2e's)."""
    out = _cli(
        "demo", "deploy", "--data-dir", str(demo.data_dir), "--app", "acme/dev/api", "--version", "2.0.0-bad",
        "--bad", "errors", "--no-wait",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "as a canary through the Cloud Controller" in out.stdout, out.stdout
    action_id = out.stdout.split(" as action ")[1].split()[0]
    calls: list[str] = []

    def started() -> bool:
        resp = httpx.get(f"{demo.api}/api/v1/actions/{action_id}", headers=demo.auth_headers, timeout=10)
        calls[:] = [e["data"]["call"] for e in resp.json()["events"] if e["kind"] == "platform_call"]
        return "start_deployment" in calls

    wait_until(started, 60, "the canary's CC deployment to start")
    guid = next(
        a["guid"] for a in demo.record()["foundation"]["apps"] if (a["org"], a["space"]) == ("acme", "dev")
    )
    action = httpx.get(f"{demo.api}/api/v1/actions/{action_id}", headers=demo.auth_headers, timeout=10).json()
    assert action["target"]["app"] == guid, action["target"]
    out = _cli("demo", "deploy", "--data-dir", str(demo.data_dir), "--app", "acme/qa/api", "--version", "3")
    assert out.returncode != 0 and "no Cloud Foundry app 'acme/qa/api'" in out.stderr, out.stderr


def test_local_app_for_maps_only_cf_names() -> None:
    record = {"foundation": {"apps": [{"org": o, "space": s, "name": n, "local_app": local}
                                      for (o, s, n), local in CF_APPS.items()]}}  # fmt: skip
    assert local_app_for(record, "globex/prod/api") == "api-globex-prod"
    assert local_app_for(record, "api-acme-dev") == "api-acme-dev"  # a local name passes through
    with pytest.raises(DemoError, match="only with `paramedic demo --platform cloudfoundry`"):
        local_app_for({}, "acme/prod/api")
    with pytest.raises(DemoError, match="no Cloud Foundry app 'acme/prod'"):
        local_app_for(record, "acme/prod")


@pytest.mark.integration
def test_sigterm_stops_every_process_of_the_cf_demo(demo: Demo) -> None:
    # runs last in this module: it stops the shared demo
    record = demo.record()["processes"]
    tree = descendants(demo.proc.pid)  # after the record: every process it names had started by then
    recorded = {(p["pid"], p["start_time"]) for p in record}
    names = {p["name"] for p in record}
    assert {"cf-stack", "loadgen", "notification-sinks", "paramedic"} <= names
    assert any(n.startswith("cf-stack/") for n in names), names  # the foundation's processes, found under it
    # an app instance can exit (a crash, a restart) between the record and the walk: those still alive
    live = {(pid, start) for pid, start in recorded if pid_start_time(pid) == start}
    assert live <= tree, "every recorded process is one the demo started"
    assert len(tree) >= 4 + 4  # its 4 children + at least supervisord, HAProxy, node exporter, an instance
    os.kill(demo.proc.pid, signal.SIGTERM)
    assert demo.proc.popen.wait(90) == 0, demo.proc.log_tail()
    survivors = [pid for pid, start in tree | recorded if pid_start_time(pid) == start]
    assert survivors == [], f"orphans left: {survivors}"
    assert processes_mentioning(str(demo.data_dir)) == []
    assert not (demo.data_dir / "demo.json").exists()
