"""Remediation's ``process_type`` reaches the Cloud Foundry adapter: a policy that scales or restarts the
``worker`` process changes the worker process in the CC (loopback fake), not ``web``; a platform with one
process per app (no ``process_type`` keyword) refuses such a policy with a clear answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from platforms.cloudfoundry import CloudFoundryPlatform
from remediation._context import CallSettings, EngineContext
from remediation._metrics import RemediationMetrics
from remediation.actions.restart_instance import RestartInstanceAction, RestartInstanceParams
from remediation.actions.scale import ScaleAction, ScaleParams
from remediation.model import ActionRequest, Target
from tests.platforms.cloudfoundry.fake_cf import APP_GUID, FakeCF


def _ctx(platform: object, action: str) -> EngineContext:
    req = ActionRequest("r1", "p", "v", action, Target(APP_GUID), {}, "live", datetime.now(UTC))
    calls = CallSettings(0, 0.0, False, asyncio.Event(), None, None)
    return EngineContext(
        platform,  # type: ignore[arg-type]
        req,
        event=lambda _k, _d: None,
        metrics=RemediationMetrics(CollectorRegistry()),
        calls=calls,
    )


def _instances(fake: FakeCF, process_type: str) -> int:
    [proc] = [
        p
        for p in fake.processes.values()
        if p["type"] == process_type and p["relationships"]["app"]["data"]["guid"] == APP_GUID
    ]
    return int(proc["instances"])


def test_scale_and_restart_act_on_the_policys_process_type(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    cf.apply_manifest(APP_GUID, {"processes": [{"type": "worker", "instances": 2}]})
    web_before = _instances(fake, "web")
    params = ScaleParams(type="scale", adjustment="+1", max_instances=5, process_type="worker")
    result = asyncio.run(ScaleAction().run(_ctx(cf, "scale"), Target(APP_GUID), params))
    assert result.ok, result.detail
    assert result.data["previous"] == 2 and result.data["instances"] == 3
    assert _instances(fake, "worker") == 3
    assert _instances(fake, "web") == web_before  # the web process is untouched
    restart = RestartInstanceParams(type="restart_instance", process_type="worker")
    result = asyncio.run(
        RestartInstanceAction().run(_ctx(cf, "restart_instance"), Target(APP_GUID, 1), restart)
    )
    assert result.ok, result.detail
    [deleted] = [r.path for r in fake.requests if r.method == "DELETE" and "/instances/" in r.path]
    worker_guid = next(g for g, p in fake.processes.items() if p["type"] == "worker")
    assert deleted == f"/v3/processes/{worker_guid}/instances/1"


class _OneProcessPlatform:
    """A platform whose calls take no process type (as the local platform's)."""

    name = "one-process"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def app_instances(self, app: str) -> list[object]:
        self.calls.append("app_instances")
        return []

    def scale(self, app: str, instances: int) -> None:
        self.calls.append("scale")

    def restart_instance(self, app: str, index: int) -> None:
        self.calls.append("restart_instance")


def test_a_platform_with_one_process_per_app_refuses_a_process_type() -> None:
    plat = _OneProcessPlatform()
    params = ScaleParams(type="scale", adjustment="+1", process_type="worker")
    result = asyncio.run(ScaleAction().run(_ctx(plat, "scale"), Target(APP_GUID), params))
    assert not result.ok and "one process per app" in result.detail
    restart = RestartInstanceParams(type="restart_instance", process_type="worker")
    result = asyncio.run(
        RestartInstanceAction().run(_ctx(plat, "restart_instance"), Target(APP_GUID, 0), restart)
    )
    assert not result.ok and "one process per app" in result.detail
    assert plat.calls == []  # nothing was called with the wrong process
