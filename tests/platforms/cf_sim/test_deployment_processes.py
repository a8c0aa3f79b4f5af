"""A canary deployment in the simulator is a second web process, as on Cloud Foundry: the REAL Cloud Foundry
adapter, pointed at the simulated CC/UAA with the ``paramedic`` client, reports the instances of both
revisions with their revision GUIDs and the local platform's instance indexes (the gorouter's
``instance_id``); after DEPLOYED one revision is left, after CANCELED the original only. The expected
indexes and revisions come from the local platform's own state, not from the CC answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from platforms.base import Instance
from platforms.cf_sim.cc_deployments import revision_guid
from platforms.cf_sim.foundation import CFApp
from platforms.cloudfoundry import CloudFoundryPlatform
from platforms.config import CloudFoundryPlatformConfig
from tests.platforms.cf_sim.conftest import Sim, poll

STEPS = {"canary": {"steps": [{"instance_weight": 10}, {"instance_weight": 50}]}}


@pytest.fixture(scope="module")
def adapter(sim: Sim) -> Iterator[CloudFoundryPlatform]:
    config = CloudFoundryPlatformConfig.model_validate(
        {
            "type": "cloudfoundry",
            "api_url": sim.cf.cc_url,
            "uaa_url": sim.cf.uaa_url,
            "client_id": "paramedic",
            "client_secret": sim.cf.client_secret("paramedic"),
            "timeout_s": 10.0,
            "retries": 1,
        }
    )
    platform = CloudFoundryPlatform(config, registry=CollectorRegistry())
    try:
        yield platform
    finally:
        platform.close()


def _app(sim: Sim) -> CFApp:  # the deployments app of this package (see conftest)
    return next(a for a in sim.cf.foundation.apps if (a.org, a.space, a.name) == ("acme", "dev", "api"))


def _local_split(sim: Sim, app: CFApp) -> dict[str, set[int]]:
    """The local platform's truth: revision GUID -> local instance indexes running it."""
    platform = sim.cf.platform
    assert platform is not None
    split: dict[str, set[int]] = {}
    for inst in platform.instances(app.local_app):
        split.setdefault(revision_guid(app, inst.revision), set()).add(inst.index)
    return split


def _reported(instances: list[Instance]) -> dict[str, set[int]]:
    split: dict[str, set[int]] = {}
    for inst in instances:
        split.setdefault(inst.revision, set()).add(inst.index)
    return split


def _paused_canary(sim: Sim, app: CFApp) -> dict[str, Any]:
    resp = sim.post(
        "/v3/deployments",
        body={"strategy": "canary", "relationships": {"app": {"data": {"guid": app.guid}}}, "options": STEPS},
    )
    assert resp.status_code == 201, resp.text
    guid = resp.json()["guid"]
    paused: dict[str, Any] = poll(
        lambda: (d := sim.get(f"/v3/deployments/{guid}").json())["status"]["reason"] == "PAUSED" and d,
        30,
        "the canary PAUSED",
    )
    return paused


def _two_revisions(adapter: CloudFoundryPlatform, sim: Sim, app: CFApp) -> dict[str, set[int]]:
    def both() -> dict[str, set[int]] | None:
        reported = _reported(adapter.app_instances(app.guid))
        return reported if len(reported) == 2 and reported == _local_split(sim, app) else None

    split: dict[str, set[int]] = poll(both, 20, "the adapter reporting both revisions as the platform runs")
    return split


def _terminate_one(sim: Sim, app: CFApp, process: str, index: int) -> None:
    """An instance of the deployment's process can be terminated (Diego replaces it), the original's cannot
    be addressed through it; the audit event names the deployment's process."""
    platform = sim.cf.platform
    assert platform is not None
    pid = next(i.pid for i in platform.instances(app.local_app) if i.index == index)
    assert sim.delete(f"/v3/processes/{app.process_guid()}/instances/{index}").status_code == 404
    assert sim.delete(f"/v3/processes/{process}/instances/{index}").status_code == 204
    poll(
        lambda: any(
            i.index == index and i.state == "RUNNING" and i.pid not in (None, pid)
            for i in platform.instances(app.local_app)
        ),
        20,
        "the terminated canary instance replaced",
    )
    query = {"types": "audit.app.process.terminate_instance", "target_guids": app.guid}
    events = sim.get("/v3/audit_events", **query).json()["resources"]
    assert [e["data"]["process_index"] for e in events if e["data"]["process_guid"] == process] == [index]


def test_canary_is_a_second_web_process_until_deployed_or_canceled(
    sim: Sim, adapter: CloudFoundryPlatform
) -> None:
    app = _app(sim)
    original = app.process_guid("web")
    old_revisions = set(_reported(adapter.app_instances(app.guid)))
    assert len(old_revisions) == 1
    old = old_revisions.pop()

    canary = _paused_canary(sim, app)
    new, new_process = canary["revision"]["guid"], canary["new_processes"][0]["guid"]
    assert new != old and new_process != original and canary["new_processes"][0]["type"] == "web"
    procs = sim.get(f"/v3/apps/{app.guid}/processes").json()["resources"]
    assert [(p["guid"], p["type"]) for p in procs] == [(original, "web"), (new_process, "web")]
    revs = {p["guid"]: p["relationships"]["revision"]["data"]["guid"] for p in procs}
    assert revs == {original: old, new_process: new}
    listed = sim.get("/v3/processes", guids=new_process).json()["resources"]
    assert [p["guid"] for p in listed] == [new_process]

    split = _two_revisions(adapter, sim, app)
    assert set(split) == {old, new} and not split[old] & split[new]  # distinct local indexes
    for guid, revision in ((new_process, new), (original, old)):
        stats = sim.get(f"/v3/processes/{guid}/stats").json()["resources"]
        assert {s["index"] for s in stats} == split[revision]
    _terminate_one(sim, app, new_process, min(split[new]))
    scale = sim.post(f"/v3/processes/{new_process}/actions/scale", body={"instances": 5})
    assert scale.status_code == 422 and scale.json()["errors"][0]["title"] == "CF-UnprocessableEntity"

    for _ in range(2):  # step 2, then the promotion
        resp = sim.post(f"/v3/deployments/{canary['guid']}/actions/continue")
        assert resp.status_code == 200, resp.text
    assert resp.json()["status"]["reason"] == "DEPLOYED"
    after = _reported(adapter.app_instances(app.guid))
    assert set(after) == {new} and after == _local_split(sim, app)
    procs = sim.get(f"/v3/apps/{app.guid}/processes").json()["resources"]
    assert [(p["guid"], p["relationships"]["revision"]["data"]["guid"]) for p in procs] == [(original, new)]
    assert sim.get(f"/v3/processes/{new_process}").status_code == 404

    second = _paused_canary(sim, app)
    assert set(_two_revisions(adapter, sim, app)) == {new, second["revision"]["guid"]}
    resp = sim.post(f"/v3/deployments/{second['guid']}/actions/cancel")
    assert resp.json()["status"]["reason"] == "CANCELED"
    canceled = _reported(adapter.app_instances(app.guid))
    assert set(canceled) == {new} and canceled == _local_split(sim, app)
    assert [p["guid"] for p in sim.get(f"/v3/apps/{app.guid}/processes").json()["resources"]] == [original]
    gone = sim.get(f"/v3/processes/{second['new_processes'][0]['guid']}/stats")
    assert gone.status_code == 404
