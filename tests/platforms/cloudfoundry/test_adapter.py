"""Contract tests of the Cloud Foundry adapter against recorded CC API v3 docs examples (fake_cf)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from platforms.base import Deployment, Platform, Remediable
from platforms.cloudfoundry import (
    CFApiError,
    CFAuthError,
    CFDeploymentTimeoutError,
    CFUnavailableError,
    CFUnknownAppError,
    CFUnsupportedError,
    CloudFoundryPlatform,
)
from platforms.factory import open_platform
from tests.platforms.cloudfoundry.conftest import FakeClock, make_config
from tests.platforms.cloudfoundry.fake_cf import (
    APP2_GUID,
    APP3_GUID,
    APP_GUID,
    REV1,
    REV2,
    WEB_GUID,
    FakeCF,
    Scripted,
    cf_error,
)


def _metric(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    return registry.get_sample_value(name, labels or {}) or 0.0


def test_implements_both_seams_and_factory(fake: FakeCF, registry: CollectorRegistry) -> None:
    platform = open_platform(make_config(fake), registry)
    assert isinstance(platform, CloudFoundryPlatform)
    assert isinstance(platform, Platform) and isinstance(platform, Remediable)
    platform.close()


# -- auth ----------------------------------------------------------------------------------------------------


def test_token_fetched_once_and_cached(
    cf: CloudFoundryPlatform, fake: FakeCF, registry: CollectorRegistry
) -> None:
    cf.apps()
    cf.apps()
    token_calls = fake.calls("POST", "/oauth/token")
    assert len(token_calls) == 1
    assert token_calls[0].body == {"grant_type": "client_credentials"}
    assert all(r.auth == "bearer token-1" for r in fake.cc_calls())
    assert _metric(registry, "paramedic_cf_token_refreshes_total") == 1


def test_token_refreshed_shortly_before_expiry(
    cf: CloudFoundryPlatform, fake: FakeCF, clock: FakeClock
) -> None:
    fake.expires_in = 120
    cf.apps()
    clock.now += 80  # 40 s left: still > 30 s margin
    cf.apps()
    assert fake.tokens_issued == 1
    clock.now += 15  # 25 s left: inside the margin -> refresh
    cf.apps()
    assert fake.tokens_issued == 2
    assert fake.cc_calls()[-1].auth == "bearer token-2"


def test_401_retried_once_with_fresh_token(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    cf.apps()
    fake.revoke_tokens()
    assert APP_GUID in cf.apps()
    assert fake.tokens_issued == 2
    refused, retried = fake.calls("GET", "/v3/apps")[-2:]  # incremental listing: one page
    assert (refused.auth, retried.auth) == ("bearer token-1", "bearer token-2")
    assert refused.query == retried.query


def test_401_twice_is_an_auth_error(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    err = cf_error(401, "CF-InvalidAuthToken", "Invalid Auth Token", 1000)
    fake.script("GET", "/v3/apps", Scripted(*err), Scripted(*err))
    with pytest.raises(CFAuthError, match="GET /v3/apps: HTTP 401 CF-InvalidAuthToken") as info:
        cf.apps()
    assert info.value.status == 401


def test_bad_client_secret_names_uaa_error(fake: FakeCF, registry: CollectorRegistry) -> None:
    platform = CloudFoundryPlatform(make_config(fake, client_secret="wrong"), registry=registry)
    with pytest.raises(CFAuthError, match=r"POST /oauth/token: HTTP 401 unauthorized: Bad credentials"):
        platform.apps()
    platform.close()


# -- reading -------------------------------------------------------------------------------------------------


def test_apps_follow_pagination(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    assert cf.apps() == [APP_GUID, APP2_GUID, APP3_GUID]  # the app key is the GUID
    pages = fake.calls("GET", "/v3/apps")
    assert [r.query.get("page") for r in pages] == [None, "2"]  # page 2 from pagination.next.href


def test_app_name_resolution_is_cached_with_ttl(
    cf: CloudFoundryPlatform, fake: FakeCF, clock: FakeClock
) -> None:
    assert cf.app_guid("my_app") == APP_GUID
    assert cf.app_guid("my_app") == APP_GUID
    lookups = [r for r in fake.calls("GET", "/v3/apps") if "names" in r.query]
    assert len(lookups) == 1 and lookups[0].query["names"] == "my_app"
    clock.now += 61
    cf.app_guid("my_app")
    assert len([r for r in fake.calls("GET", "/v3/apps") if "names" in r.query]) == 2


def test_unknown_app(cf: CloudFoundryPlatform) -> None:
    with pytest.raises(CFUnknownAppError, match="no app named 'nope'"):
        cf.app_instances("nope")


def test_app_instances_from_process_stats(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    instances = cf.app_instances("my_app")
    assert [(i.index, i.state) for i in instances] == [(0, "RUNNING"), (1, "STARTING")]
    first = instances[0]
    assert first.app == APP_GUID and first.revision == "885735b5-aea4-4cf5-8e44-961af0e41920"
    assert first.details["host"] == "10.244.16.10" and first.details["mem_bytes"] == "19177472"
    assert fake.calls("GET", f"/v3/apps/{APP_GUID}/processes")[0].query["types"] == "web"
    assert fake.calls("GET", f"/v3/processes/{WEB_GUID}/stats")


def test_unknown_cc_state_maps_to_down(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    stats = {"resources": [{"type": "web", "index": 0, "state": "UNKNOWN_FUTURE_STATE"}]}
    fake.script("GET", f"/v3/processes/{WEB_GUID}/stats", Scripted(200, stats))
    [instance] = cf.app_instances("my_app")
    assert instance.state == "DOWN" and instance.details["cf_state"] == "UNKNOWN_FUTURE_STATE"


def test_discovery(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    targets = cf.discover()
    # web (2 instances, one placed) + worker (1 placed) of my_app; STOPPED apps are skipped.
    assert [t.url for t in targets] == ["http://10.244.16.10:64546/metrics"] * 2
    web = targets[0].labels
    assert web["job"] == "app" and web["app"] == "my_app" and web["app_instance"] == "0"
    assert (web["app_guid"], web["space"], web["org"], web["process_type"]) == (
        APP_GUID,
        "my-space",
        "my-organization",
        "web",
    )
    assert web["space_guid"] == web["__meta_cf_space_guid"] and web["org_guid"] == web["__meta_cf_org_guid"]
    assert web["__meta_cf_app_guid"] == APP_GUID and web["__meta_cf_source_id"] == APP_GUID
    assert web["__meta_cf_space"] == "my-space" and web["__meta_cf_org"] == "my-organization"
    assert web["__meta_cf_process_type"] == "web" and web["__meta_cf_state"] == "RUNNING"
    assert targets[1].labels["__meta_cf_process_type"] == "worker"
    assert targets[1].labels["process_type"] == "worker"
    assert fake.calls("GET", "/v3/apps")[0].query["include"] == "space.organization"
    assert not fake.calls("GET", f"/v3/spaces/{web['space_guid']}")  # names came with the app listing


# -- actions -------------------------------------------------------------------------------------------------


def test_restart_app_is_a_rolling_deployment_not_a_stop(
    cf: CloudFoundryPlatform, fake: FakeCF, clock: FakeClock
) -> None:
    done = cf.restart_app("my_app")
    [create] = fake.calls("POST", "/v3/deployments")
    assert create.body == {"strategy": "rolling", "relationships": {"app": {"data": {"guid": APP_GUID}}}}
    [dep] = fake.deployments.values()
    assert dep["status"] == {"value": "FINALIZED", "reason": "DEPLOYED"} and dep["revision"]["guid"] == REV1
    assert isinstance(done, Deployment) and (done.id, done.state, done.app) == (
        dep["guid"],
        "DEPLOYED",
        APP_GUID,
    )
    assert len(fake.calls("GET", f"/v3/deployments/{dep['guid']}")) == fake.rolling_polls
    assert clock.sleeps == [1.0] * (fake.rolling_polls - 1)  # polled, injected sleep
    assert fake.restarts == 0 and not [r for r in fake.cc_calls() if "/actions/" in r.path]


def test_restart_app_waits_for_an_active_rolling_deployment(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    cf = CloudFoundryPlatform(
        make_config(fake, deployment_timeout_s=3), registry=registry, clock=clock, sleep=clock.sleep
    )
    fake.rolling_polls = 99
    with pytest.raises(CFDeploymentTimeoutError, match=r"restart_app: deployment .* still DEPLOYING after 3"):
        cf.restart_app(APP_GUID)
    fake.rolling_polls = 1
    assert cf.restart_app(APP_GUID).state == "DEPLOYED"  # the same deployment, no second POST
    assert len(fake.calls("POST", "/v3/deployments")) == 1
    cf.close()


def test_restart_app_refuses_while_a_canary_is_active(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    dep = cf.start_deployment(APP_GUID, REV2, 10)
    with pytest.raises(CFUnsupportedError, match=f"canary deployment {dep.id} .* promote or cancel it first"):
        cf.restart_app(APP_GUID)
    assert len(fake.calls("POST", "/v3/deployments")) == 1


def test_restart_strategy_restart_uses_actions_restart(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    cf = CloudFoundryPlatform(
        make_config(fake, restart_strategy="restart"), registry=registry, clock=clock, sleep=clock.sleep
    )
    cf.restart_app("my_app")
    assert len(fake.calls("POST", f"/v3/apps/{APP_GUID}/actions/restart")) == 1 and fake.restarts == 1
    assert not fake.calls("POST", "/v3/deployments")
    cf.close()


def test_restart_instance(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    cf.restart_instance("my_app", 1)
    assert len(fake.calls("DELETE", f"/v3/processes/{WEB_GUID}/instances/1")) == 1
    with pytest.raises(CFUnknownAppError, match="no web instance 7"):
        cf.restart_instance("my_app", 7)


def test_scale(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    cf.scale("my_app", 4)
    [call] = fake.calls("POST", f"/v3/processes/{WEB_GUID}/actions/scale")
    assert call.body == {"instances": 4}
    assert fake.processes[WEB_GUID]["instances"] == 4


def test_revisions(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    revs = cf.revisions("my_app")
    assert [(r.id, r.version, r.current) for r in revs] == [(REV1, 1, True), (REV2, 2, False)]
    assert revs[0].description == "Initial revision."
    assert fake.calls("GET", f"/v3/apps/{APP_GUID}/revisions/deployed")


def test_canary_deployment_lifecycle(fake: FakeCF, clock: FakeClock, registry: CollectorRegistry) -> None:
    cfg = make_config(fake, canary_steps_pct=[50, 5])
    cf = CloudFoundryPlatform(cfg, registry=registry, clock=clock, sleep=clock.sleep)
    dep = cf.start_deployment("my_app", REV2, 10)
    [create] = fake.calls("POST", "/v3/deployments")
    assert create.body == {
        "revision": {"guid": REV2},
        "strategy": "canary",
        "options": {"canary": {"steps": [{"instance_weight": 10}, {"instance_weight": 50}]}},
        "relationships": {"app": {"data": {"guid": APP_GUID}}},
    }
    assert (dep.app, dep.revision, dep.previous_revision, dep.state, dep.weight_pct) == (
        APP_GUID,
        REV2,
        REV1,
        "PAUSED",
        10,
    )
    # idempotent: the ACTIVE deployment of the same revision is returned, no second POST
    assert cf.start_deployment("my_app", REV2, 10).id == dep.id
    assert len(fake.calls("POST", "/v3/deployments")) == 1

    assert cf.set_deployment_weight(dep.id, 10).weight_pct == 10  # already there: no continue
    assert not fake.calls("POST", f"/v3/deployments/{dep.id}/actions/continue")
    moved = cf.set_deployment_weight(dep.id, 50)
    assert (moved.state, moved.weight_pct) == ("PAUSED", 50)
    assert len(fake.calls("POST", f"/v3/deployments/{dep.id}/actions/continue")) == 1
    with pytest.raises(CFUnsupportedError, match="cannot lower a canary from 50% to 20%"):
        cf.set_deployment_weight(dep.id, 20)

    same = cf.deployment(dep.id)
    assert (same.previous_revision, same.weight_pct) == (REV1, 50)  # from previous_droplet
    done = cf.promote_deployment(dep.id)
    assert (done.state, done.weight_pct) == ("DEPLOYED", 100)
    assert cf.promote_deployment(dep.id).state == "DEPLOYED"  # idempotent
    assert len(fake.calls("POST", f"/v3/deployments/{dep.id}/actions/continue")) == 2
    cf.close()


def test_cancel_deployment(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    dep = cf.start_deployment("my_app", REV2, 0)
    assert fake.calls("POST", "/v3/deployments")[0].body["options"]["canary"]["steps"] == [
        {"instance_weight": 1}
    ]
    canceled = cf.cancel_deployment(dep.id)
    assert (canceled.state, canceled.weight_pct) == ("CANCELED", 0)
    assert cf.cancel_deployment(dep.id).state == "CANCELED"  # idempotent: no second cancel call
    assert len(fake.calls("POST", f"/v3/deployments/{dep.id}/actions/cancel")) == 1


def test_rollback(cf: CloudFoundryPlatform, fake: FakeCF) -> None:
    dep = cf.rollback("my_app", REV1)
    [create] = fake.calls("POST", "/v3/deployments")
    assert create.body == {"revision": {"guid": REV1}, "relationships": {"app": {"data": {"guid": APP_GUID}}}}
    assert (dep.state, dep.revision, dep.weight_pct) == ("DEPLOYING", REV1, 0)
    assert cf.rollback("my_app", REV1).id == dep.id


# -- errors and retries --------------------------------------------------------------------------------------


def test_5xx_retried_with_backoff(cf: CloudFoundryPlatform, fake: FakeCF, clock: FakeClock) -> None:
    err = cf_error(503, "CF-ServiceUnavailable", "Try later", 10015)
    fake.script("GET", "/v3/apps", Scripted(*err), Scripted(*err))
    assert cf.apps() == [APP_GUID, APP2_GUID, APP3_GUID]
    assert clock.sleeps == [0.2, 0.4]


def test_5xx_not_retried_for_create(cf: CloudFoundryPlatform, fake: FakeCF, clock: FakeClock) -> None:
    fake.script("POST", "/v3/deployments", Scripted(*cf_error(502, "CF-BadGateway", "upstream", 1)))
    with pytest.raises(CFApiError, match=r"POST /v3/deployments: HTTP 502 CF-BadGateway: upstream"):
        cf.rollback("my_app", REV1)
    assert clock.sleeps == []


def test_timeout_retried_then_platform_error(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    cf = CloudFoundryPlatform(
        make_config(fake, timeout_s=0.2, retries=1), registry=registry, clock=clock, sleep=clock.sleep
    )
    cf.apps()  # token + name cache warm
    slow = Scripted(0, delay_s=0.6)
    fake.script("DELETE", f"/v3/processes/{WEB_GUID}/instances/0", slow, slow)
    with pytest.raises(
        CFUnavailableError, match=r"DELETE /v3/processes/:guid/instances/:index: timeout after 2"
    ):
        cf.restart_instance("my_app", 0)
    assert clock.sleeps == [0.2]
    labels = {"platform": "cloudfoundry", "component": "cc", "reason": "timeout"}
    assert _metric(registry, "paramedic_platform_errors_total", labels) == 1
    cf.close()


def test_404_names_cf_title(cf: CloudFoundryPlatform) -> None:
    with pytest.raises(CFApiError, match="GET /v3/deployments/:guid: HTTP 404 CF-ResourceNotFound") as info:
        cf.deployment("no-such-deployment")
    assert (info.value.status, info.value.title, info.value.detail) == (
        404,
        "CF-ResourceNotFound",
        "Deployment not found",
    )


def test_422_names_cf_title_and_is_not_retried(cf: CloudFoundryPlatform, clock: FakeClock) -> None:
    with pytest.raises(CFApiError, match="HTTP 422 CF-UnprocessableEntity: Revision not found"):
        cf.rollback("my_app", "not-a-revision")
    assert clock.sleeps == []


def test_call_metrics(cf: CloudFoundryPlatform, registry: CollectorRegistry) -> None:
    cf.app_instances("my_app")
    call = {"platform": "cloudfoundry", "component": "cc", "call": "GET /v3/processes/:guid/stats"}
    assert _metric(registry, "paramedic_platform_calls_total", call | {"outcome": "ok"}) == 1
    assert _metric(registry, "paramedic_platform_call_duration_seconds_count", call) == 1
