"""Async jobs (apply_manifest: 202 + Location, /v3/jobs polled), several process types, and CC audit events
as PlatformEvents (the EventSource seam)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from platforms.base import EventSource, PlatformEvent
from platforms.cloudfoundry import (
    CFJobFailedError,
    CFJobTimeoutError,
    CFUnknownAppError,
    CloudFoundryPlatform,
)
from platforms.cloudfoundry._events import cc_time
from tests.platforms.cloudfoundry.conftest import FakeClock, make_config
from tests.platforms.cloudfoundry.fake_cf import APP_GUID, APP_SPACE, JOBS, WEB_GUID, WORKER_GUID, FakeCF

# -- jobs ----------------------------------------------------------------------------------------------------


def test_apply_manifest_polls_the_job_to_complete(
    cf: CloudFoundryPlatform, fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    fake.job_polls = 2
    job = cf.apply_manifest(APP_GUID, {"processes": [{"type": "worker", "instances": 3}]})
    [post] = fake.calls("POST", f"/v3/spaces/{APP_SPACE}/actions/apply_manifest")
    assert post.body == {
        "applications": [{"processes": [{"type": "worker", "instances": 3}], "name": "my_app"}]
    }
    assert job["state"] == "COMPLETE" and job["operation"] == "space.apply_manifest"
    assert len(fake.calls("GET", f"/v3/jobs/{job['guid']}")) == 3  # PROCESSING twice, then COMPLETE
    assert clock.sleeps == [1.0, 1.0]
    assert fake.processes[WORKER_GUID]["instances"] == 3  # the fake applied it when the job completed
    assert registry.get_sample_value("paramedic_cf_jobs_total", {"outcome": "complete"}) == 1


def test_failed_job_carries_the_job_errors(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    fake.fail_jobs = JOBS["single_non_complete_job"]["errors"]
    with pytest.raises(
        CFJobFailedError,
        match=r"POST /v3/spaces/:guid/actions/apply_manifest: job .* FAILED: CF-UnprocessableEntity: some",
    ) as info:
        cf.apply_manifest("my_app", {"processes": [{"type": "web", "instances": 9}]})
    assert info.value.errors == JOBS["single_non_complete_job"]["errors"]
    assert (info.value.title, info.value.detail) == ("CF-UnprocessableEntity", "something went wrong")
    assert fake.processes[WEB_GUID]["instances"] == 2  # nothing applied


def test_job_timeout_names_the_call(fake: FakeCF, clock: FakeClock, registry: CollectorRegistry) -> None:
    cf = CloudFoundryPlatform(
        make_config(fake, job_timeout_s=3),
        registry=registry,
        clock=clock,
        sleep=clock.sleep,
        poll_interval_s=1,
    )
    fake.job_polls = 100
    with pytest.raises(CFJobTimeoutError, match=r"apply_manifest: job .* still PROCESSING after 3"):
        cf.apply_manifest(APP_GUID, {"processes": [{"type": "worker", "instances": 2}]})
    assert registry.get_sample_value("paramedic_cf_jobs_total", {"outcome": "timeout"}) == 1
    cf.close()


# -- process types -------------------------------------------------------------------------------------------


def test_process_types_per_call(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    web = cf.app_instances(APP_GUID)
    worker = cf.app_instances(APP_GUID, process_type="worker")
    assert {i.details["process_type"] for i in web} == {"web"} and len(web) == 2
    assert [(i.index, i.details["process_type"], i.state) for i in worker] == [(0, "worker", "RUNNING")]
    cf.scale(APP_GUID, 4, process_type="worker")
    assert (fake.processes[WORKER_GUID]["instances"], fake.processes[WEB_GUID]["instances"]) == (4, 2)
    cf.restart_instance(APP_GUID, 3, process_type="worker")
    assert fake.calls("DELETE", f"/v3/processes/{WORKER_GUID}/instances/3")
    with pytest.raises(CFUnknownAppError, match="has no 'clock' process"):
        cf.scale(APP_GUID, 1, process_type="clock")
    types = {t.labels["process_type"] for t in cf.discover() if t.labels["app_guid"] == APP_GUID}
    assert types == {"web", "worker"}


# -- audit events --------------------------------------------------------------------------------------------


def test_audit_events_become_platform_events(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    assert isinstance(cf, EventSource)
    cf.scale(APP_GUID, 3)
    fake.crash(WEB_GUID, 1, "APP/PROC/WEB: Exited with status 137 (out of memory)")
    cf.restart_app(APP_GUID)
    events = cf.events(APP_GUID, 0.0, 4_000_000_000.0)
    assert [e.kind for e in events] == ["scale", "crash", "deployment"]
    assert all(isinstance(e, PlatformEvent) and e.app == APP_GUID for e in events)
    scale, crash, deploy = events
    assert scale.type == "audit.app.process.scale"
    assert scale.details == {
        "instances": "3",
        "process_type": "web",
        "app_name": "my_app",
        "space": "my-space",
        "org": "my-organization",
    }
    assert crash.details["index"] == "1" and "out of memory" in crash.details["exit_description"]
    assert "index=1" in crash.summary and crash.actor == "paramedic"
    assert deploy.details["strategy"] == "rolling"
    assert [e.time for e in events] == sorted(cc_time(e["created_at"]) for e in fake.audit[1:])
    query = fake.calls("GET", "/v3/audit_events")[-1].query
    assert query["target_guids"] == APP_GUID and "audit.app.process.crash" in query["types"].split(",")
    assert query["created_ats[gte]"] == "1970-01-01T00:00:00Z"


def test_events_are_bounded_by_limit_and_time(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    for n in range(1, 6):
        cf.scale(APP_GUID, n)
    every = cf.events(None, 0.0, 4_000_000_000.0)
    assert [e.details["instances"] for e in every if e.kind == "scale"] == ["1", "2", "3", "4", "5"]
    assert len(fake.calls("GET", "/v3/audit_events")) == 3  # 6 events, pages of 2 (fake_cf.page_size)
    newest = cf.events(APP_GUID, 0.0, 4_000_000_000.0, limit=2)
    assert [e.details["instances"] for e in newest] == ["4", "5"]  # the newest ones, newest last
    assert len(fake.calls("GET", "/v3/audit_events")) == 4  # limit=2: one page, not every page
    window = cf.events(APP_GUID, every[2].time, every[4].time)
    assert [e.details["instances"] for e in window] == ["2", "3", "4"]
    assert cf.events(APP_GUID, 0.0, 4_000_000_000.0, limit=0) == []
    # the docs example (audit.app.update of an app this client cannot see) is listed for app=None only
    assert any(e.type == "audit.app.update" and e.kind == "other" for e in every)
