"""The simulated CC: authorization and role scoping, filters and pagination, rate limiting, actions on the
real local platform (scale, stop/start, instance termination, crash detection), deployments and jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.parse

import httpx

from platforms.cf_sim.cc_api import cc_app
from platforms.cf_sim.cc_auth import RateLimiter
from platforms.cf_sim.runner import ServedApp
from platforms.cf_sim.tokens import TokenIssuer
from tests.platforms.cf_sim.conftest import Sim, poll


def _errors(resp: httpx.Response) -> tuple[int, int, str]:
    error = resp.json()["errors"][0]
    return resp.status_code, error["code"], error["title"]


def test_no_expired_or_forged_token_is_401(sim: Sim) -> None:
    assert _errors(httpx.get(f"{sim.cf.cc_url}/v3/apps")) == (401, 10002, "CF-NotAuthenticated")
    issuer = sim.cf.issuer
    assert issuer is not None
    claims = {"user_id": "u", "user_name": "admin", "client_id": "cf", "scope": ["cloud_controller.admin"]}
    expired = issuer.issue(claims, ttl_s=-5)
    forger = TokenIssuer(issuer.issuer)
    forger.kid = issuer.kid  # same header, another key: only the signature differs
    forged = forger.issue(claims, ttl_s=600)
    for token in (expired, forged, "not-a-jwt"):
        resp = httpx.get(f"{sim.cf.cc_url}/v3/apps", headers={"Authorization": f"bearer {token}"})
        assert _errors(resp) == (401, 1000, "CF-InvalidAuthToken")
    valid = issuer.issue(claims, ttl_s=600)
    assert (
        httpx.get(f"{sim.cf.cc_url}/v3/apps", headers={"Authorization": f"bearer {valid}"}).status_code == 200
    )


def test_developer_sees_only_their_space_and_auditor_cannot_write(sim: Sim) -> None:
    globex_api = sim.app_guid("globex", "prod", "api")
    acme_web = sim.app_guid("acme", "prod", "web")
    names = {
        (a["name"], a["relationships"]["space"]["data"]["guid"])
        for a in sim.get("/v3/apps", "dev-acme").json()["resources"]
    }
    acme_prod = next(s.guid for s in sim.cf.foundation.spaces if (s.org, s.name) == ("acme", "prod"))
    assert names == {("api", acme_prod), ("web", acme_prod)}
    assert _errors(sim.get(f"/v3/apps/{globex_api}", "dev-acme")) == (404, 10010, "CF-ResourceNotFound")
    assert _errors(sim.post(f"/v3/apps/{globex_api}/actions/restart", "dev-acme")) == (
        404,
        10010,
        "CF-ResourceNotFound",
    )
    assert [o["name"] for o in sim.get("/v3/organizations", "dev-acme").json()["resources"]] == ["acme"]
    # the auditor sees globex's api but may not change it; the developer may scale acme's web
    assert sim.get(f"/v3/apps/{globex_api}", "auditor-globex").status_code == 200
    assert _errors(sim.post(f"/v3/apps/{globex_api}/actions/stop", "auditor-globex")) == (
        403,
        10003,
        "CF-NotAuthorized",
    )
    assert sim.cf.state is not None and sim.cf.state.app_state[globex_api] == "STARTED"
    web = sim.cf.foundation.app_by_guid(acme_web)
    assert web is not None
    count = len(sim.cf.platform.instances(web.local_app)) if sim.cf.platform else 0
    resp = sim.post(f"/v3/processes/{web.process_guid()}/actions/scale", "dev-acme", {"instances": count})
    assert resp.status_code == 202
    roles = sim.get("/v3/roles", "dev-acme").json()["resources"]
    assert {r["type"] for r in roles} == {"organization_user", "space_developer"}


def test_pagination_walks_every_app_once(sim: Sim) -> None:
    first = sim.get("/v3/apps", per_page=1, order_by="name").json()
    total = first["pagination"]["total_results"]
    assert total == len(sim.cf.foundation.apps) == first["pagination"]["total_pages"]
    assert first["pagination"]["previous"] is None
    seen, page = [], first
    while True:
        seen += [a["guid"] for a in page["resources"]]
        nxt = page["pagination"]["next"]
        if nxt is None:
            break
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(nxt["href"]).query))
        assert query["order_by"] == "name"  # the other parameters survive in the links
        page = sim.get("/v3/apps", **query).json()
        assert page["pagination"]["previous"] is not None
    assert sorted(seen) == sorted(a.guid for a in sim.cf.foundation.apps)
    names = [sim.cf.foundation.app_by_guid(g).name for g in seen]  # type: ignore[union-attr]
    assert names == sorted(names)
    assert _errors(sim.get("/v3/apps", per_page=0)) == (400, 10005, "CF-BadQueryParameter")
    assert _errors(sim.get("/v3/apps", bogus="1")) == (400, 10005, "CF-BadQueryParameter")


def test_filters_and_include(sim: Sim) -> None:
    acme = next(o.guid for o in sim.cf.foundation.orgs if o.name == "acme")
    body = sim.get(
        "/v3/apps", names="api", organization_guids=acme, include="space,space.organization"
    ).json()
    assert sorted(a["guid"] for a in body["resources"]) == sorted(
        a.guid for a in sim.cf.foundation.apps if a.name == "api" and a.org == "acme"
    )
    assert {o["name"] for o in body["included"]["organizations"]} == {"acme"}
    assert {s["name"] for s in body["included"]["spaces"]} == {"prod", "dev"}


def test_updated_ats_returns_only_what_changed(sim: Sim) -> None:
    newest = max(a["updated_at"] for a in sim.get("/v3/apps").json()["resources"])
    # CC timestamps have one-second resolution: wait until a change lands in a later second
    poll(lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > newest, 3, "the next second")
    api = sim.cf.foundation.apps_in("acme", "prod")[0]
    count = sim.get(f"/v3/processes/{api.process_guid()}").json()["instances"]
    assert (
        sim.post(f"/v3/processes/{api.process_guid()}/actions/scale", body={"instances": count}).status_code
        == 202
    )
    changed = sim.get("/v3/apps", **{"updated_ats[gt]": newest}).json()["resources"]
    assert [a["guid"] for a in changed] == [api.guid]
    assert sim.get("/v3/apps", **{"updated_ats[gte]": newest}).json()["pagination"]["total_results"] >= 1


def test_rate_limit_answers_429_with_retry_after(sim: Sim) -> None:
    state = sim.cf.state
    assert state is not None
    # a second CC over the same state with a limit of 3 per minute: the same app code, a low limit
    from platforms.cf_sim.cc_context import CCContext  # noqa: PLC0415

    issuer = sim.cf.issuer
    assert issuer is not None
    ctx = CCContext(state, sim.cf.accounts, issuer, sim.cf.uaa_url)
    served = ServedApp("cc-limited", cc_app(ctx, sim.cf.metrics, RateLimiter(3, 60)), ServedApp.bind())
    ctx.base = served.url
    served.start()
    try:
        headers = sim.auth("auditor-globex")
        answers = [httpx.get(f"{served.url}/v3/apps", headers=headers) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
        limited = answers[-1]
        assert _errors(limited) == (429, 10013, "CF-RateLimitExceeded")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert int(limited.headers["X-RateLimit-Reset"]) >= int(time.time())
        # per user: another user still has their quota
        assert httpx.get(f"{served.url}/v3/apps", headers=sim.auth("dev-acme")).status_code == 200
    finally:
        served.stop()
    limited_total = sim.registry.get_sample_value("paramedic_cfsim_rate_limited_total", {"api": "cc"})
    assert limited_total is not None and limited_total >= 1


def test_stop_start_and_terminate_instance_change_real_processes(sim: Sim) -> None:
    app = next(a for a in sim.cf.foundation.apps if (a.org, a.space, a.name) == ("acme", "prod", "api"))
    platform = sim.cf.platform
    assert platform is not None
    assert sim.post(f"/v3/apps/{app.guid}/actions/stop").json()["state"] == "STOPPED"
    assert platform.instances(app.local_app) == []
    assert sim.get(f"/v3/processes/{app.process_guid()}/stats").json()["resources"] == []
    assert sim.post(f"/v3/apps/{app.guid}/actions/start").json()["state"] == "STARTED"
    poll(
        lambda: (
            len(platform.instances(app.local_app)) == 2
            and all(i.state == "RUNNING" for i in platform.instances(app.local_app))
        ),
        20,
        "api back to 2 RUNNING instances",
    )
    before = {i.index: i.pid for i in platform.instances(app.local_app)}
    first = min(before)  # past the stopped ones: the local platform never reuses an instance index
    resp = httpx.delete(
        f"{sim.cf.cc_url}/v3/processes/{app.process_guid()}/instances/{first}", headers=sim.auth("admin")
    )
    assert resp.status_code == 204
    poll(
        lambda: (
            next(i for i in platform.instances(app.local_app) if i.index == first).pid
            not in (None, before[first])
        ),
        20,
        "the first instance replaced",
    )
    types = [e["type"] for e in sim.get("/v3/audit_events", target_guids=app.guid).json()["resources"]]
    assert {"audit.app.stop", "audit.app.start", "audit.app.process.terminate_instance"} <= set(types)
    assert "audit.app.process.crash" not in types  # our own restarts are not crashes


def test_a_killed_instance_is_recorded_as_a_crash(sim: Sim) -> None:
    app = next(a for a in sim.cf.foundation.apps if (a.org, a.space, a.name) == ("globex", "prod", "api"))
    platform = sim.cf.platform
    assert platform is not None
    victim = next(i for i in platform.instances(app.local_app) if i.index == 1)
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    query = {"types": "audit.app.process.crash", "target_guids": app.guid}
    crashes = poll(lambda: sim.get("/v3/audit_events", **query).json()["resources"], 20, "a crash event")
    assert crashes[0]["data"]["index"] == 1 and crashes[0]["target"]["name"] == "api"
    assert crashes[0]["actor"] == {"guid": app.process_guid(), "type": "process", "name": "web"}


def _deployment(sim: Sim, body: dict) -> dict:  # type: ignore[type-arg]
    resp = sim.post("/v3/deployments", body=body)
    assert resp.status_code == 201, resp.text
    result: dict = resp.json()  # type: ignore[type-arg]
    return result


def _status(sim: Sim, guid: str, reason: str) -> dict:  # type: ignore[type-arg]
    result: dict = poll(  # type: ignore[type-arg]
        lambda: (d := sim.get(f"/v3/deployments/{guid}").json())["status"]["reason"] == reason and d,
        30,
        f"deployment {reason}",
    )
    return result


def test_canary_deployment_steps_then_deploys(sim: Sim) -> None:
    app = next(a for a in sim.cf.foundation.apps if (a.org, a.space, a.name) == ("acme", "dev", "api"))
    platform = sim.cf.platform
    assert platform is not None
    old = platform.state().app(app.local_app).current  # type: ignore[union-attr]
    creates_before = _count(sim, app.guid, "audit.app.deployment.create")  # other tests deploy this app too
    body = {
        "strategy": "canary",
        "relationships": {"app": {"data": {"guid": app.guid}}},
        "options": {"canary": {"steps": [{"instance_weight": 10}, {"instance_weight": 50}]}},
    }
    created = _deployment(sim, body)
    assert created["status"]["value"] == "ACTIVE"
    paused = _status(sim, created["guid"], "PAUSED")
    assert paused["status"]["canary"]["steps"] == {"current": 1, "total": 2}
    local = platform.deployment(sim.cf.state.deployments.get(created["guid"]).local_id)  # type: ignore[union-attr]
    assert local.weight_pct == 10
    step2 = sim.post(f"/v3/deployments/{created['guid']}/actions/continue").json()
    assert step2["status"]["canary"]["steps"]["current"] == 2
    assert platform.deployment(local.id).weight_pct == 50
    done = sim.post(f"/v3/deployments/{created['guid']}/actions/continue").json()
    assert (done["status"]["value"], done["status"]["reason"]) == ("FINALIZED", "DEPLOYED")
    spec = platform.state().app(app.local_app)
    assert spec is not None and spec.current != old and {i.revision for i in spec.instances} == {spec.current}
    deployed = sim.get(f"/v3/apps/{app.guid}/revisions/deployed").json()["resources"]
    assert [r["guid"] for r in deployed] == [done["revision"]["guid"]]
    # a new deployment supersedes an active one; cancel puts the old revision back
    first = _deployment(sim, body)
    second = _deployment(sim, body)
    assert sim.get(f"/v3/deployments/{first['guid']}").json()["status"]["reason"] == "SUPERSEDED"
    _status(sim, second["guid"], "PAUSED")
    canceled = sim.post(f"/v3/deployments/{second['guid']}/actions/cancel").json()
    assert (canceled["status"]["value"], canceled["status"]["reason"]) == ("FINALIZED", "CANCELED")
    spec = platform.state().app(app.local_app)
    assert spec is not None and {i.revision for i in spec.instances} == {spec.current}
    assert _count(sim, app.guid, "audit.app.deployment.create") == creates_before + 3
    assert _count(sim, app.guid, "audit.app.deployment.cancel") >= 1


def _count(sim: Sim, app_guid: str, type_: str) -> int:
    query = {"target_guids": app_guid, "types": type_, "per_page": 5000}
    return int(sim.get("/v3/audit_events", **query).json()["pagination"]["total_results"])


def test_apply_manifest_is_a_job_that_completes(sim: Sim) -> None:
    app = next(a for a in sim.cf.foundation.apps if (a.org, a.space, a.name) == ("acme", "prod", "api"))
    platform = sim.cf.platform
    assert platform is not None
    manifest = b"applications:\n- name: api\n  instances: 3\n"
    headers = {**sim.auth("admin"), "Content-Type": "application/x-yaml"}
    resp = httpx.post(
        f"{sim.cf.cc_url}/v3/spaces/{app.space_guid}/actions/apply_manifest",
        content=manifest,
        headers=headers,
    )
    assert resp.status_code == 202
    job_url = resp.headers["Location"]
    assert httpx.get(job_url, headers=headers).json()["state"] in ("PROCESSING", "COMPLETE")
    poll(lambda: httpx.get(job_url, headers=headers).json()["state"] == "COMPLETE", 20, "job COMPLETE")
    assert len(platform.instances(app.local_app)) == 3
    bad = httpx.post(
        f"{sim.cf.cc_url}/v3/spaces/{app.space_guid}/actions/apply_manifest",
        content=b"applications:\n- name: nope\n",
        headers=headers,
    )
    failed = poll(
        lambda: (j := httpx.get(bad.headers["Location"], headers=headers).json())["state"] == "FAILED" and j,
        20,
        "job FAILED",
    )
    assert failed["errors"][0]["title"] == "CF-UnprocessableEntity"
    sim.post(f"/v3/processes/{app.process_guid()}/actions/scale", body={"instances": 2})
    assert len(platform.instances(app.local_app)) == 2


def test_self_metrics_count_requests_by_route_template(sim: Sim) -> None:
    sim.get(f"/v3/apps/{sim.app_guid('acme', 'prod', 'web')}")
    value = sim.registry.get_sample_value(
        "paramedic_cfsim_requests_total", {"api": "cc", "route": "/v3/apps/{guid}", "code": "200"}
    )
    assert value is not None and value >= 1
    created = sim.registry.get_sample_value(
        "paramedic_cfsim_audit_events_total", {"type": "audit.app.create"}
    )
    assert created == len(sim.cf.foundation.apps)


def test_stats_come_from_the_real_instance_processes(sim: Sim) -> None:
    app = next(a for a in sim.cf.foundation.apps if (a.org, a.space, a.name) == ("acme", "prod", "web"))
    platform, state = sim.cf.platform, sim.cf.state
    assert platform is not None and state is not None
    stats = sim.get(f"/v3/processes/{app.process_guid()}/stats").json()["resources"]
    live = {i.index: i for i in platform.instances(app.local_app)}
    assert {s["index"] for s in stats} == set(live)
    for stat in stats:
        inst = live[stat["index"]]
        assert stat["state"] == inst.state
        assert stat["instance_ports"][0]["external"] == inst.port
        if stat["state"] == "RUNNING":
            assert 5 * 2**20 < stat["usage"]["mem"] < 2**30  # a Python process's resident memory
            assert inst.pid is not None  # uptime as ps(1) measures it, independently of /proc parsing here
            elapsed = int(
                subprocess.run(
                    ["ps", "-o", "etimes=", "-p", str(inst.pid)], capture_output=True, text=True, check=True
                ).stdout
            )
            assert abs(stat["uptime"] - elapsed) <= 2
            assert stat["usage"]["disk"] > 0  # the instance has written its log
            assert stat["usage"]["cpu"] >= 0
    instances = sim.get(f"/v3/processes/{app.process_guid()}/process_instances").json()["resources"]
    assert [(i["index"], i["state"]) for i in instances] == [(s["index"], s["state"]) for s in stats]


def test_extra_servers_are_served_and_linked_from_the_root(sim: Sim) -> None:
    links = httpx.get(f"{sim.cf.cc_url}/").json()["links"]
    assert links["status_probe"]["href"] == sim.cf.urls["status_probe"]
    assert links["uaa"]["href"] == links["login"]["href"] == sim.cf.uaa_url
    served = httpx.get(f"{links['status_probe']['href']}/apps").json()
    assert served == sorted(a.local_app for a in sim.cf.foundation.apps)


def test_credentials_are_this_runs_and_they_work(sim: Sim) -> None:
    creds = sim.cf.credentials()
    clients, users = creds["clients"], creds["users"]
    assert isinstance(clients, dict) and isinstance(users, dict)
    assert set(users) == {"admin", "dev-acme", "auditor-globex", "no-roles"}
    assert len(set(users.values())) == 4 and all(len(p) >= 16 for p in users.values())  # fresh, distinct
    token = httpx.post(
        f"{creds['uaa_url']}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("paramedic", clients["paramedic"]),
    ).json()["access_token"]
    apps = httpx.get(f"{creds['cc_url']}/v3/apps", headers={"Authorization": f"bearer {token}"}).json()
    assert apps["pagination"]["total_results"] == len(sim.cf.foundation.apps)


def test_audit_events_filter_by_type_and_creation_time(sim: Sim) -> None:
    state = sim.cf.state
    assert state is not None
    boot = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.booted_at))
    created = sim.get("/v3/audit_events", types="audit.app.create,audit.app.droplet.create").json()[
        "resources"
    ]
    assert sorted(e["type"] for e in created).count("audit.app.create") == len(sim.cf.foundation.apps)
    assert {e["target"]["guid"] for e in created} == {a.guid for a in sim.cf.foundation.apps}
    later = sim.get("/v3/audit_events", **{"created_ats[gt]": boot}).json()["resources"]
    assert all(e["created_at"] > boot for e in later)
    assert not any(e["type"] == "audit.app.create" for e in later)
    acme_prod = next(s.guid for s in sim.cf.foundation.spaces if (s.org, s.name) == ("acme", "prod"))
    scoped = sim.get("/v3/audit_events", "dev-acme").json()["resources"]
    assert scoped and {e["space"]["guid"] for e in scoped} == {acme_prod}


def test_rolling_deployment_replaces_every_instance_without_downtime(sim: Sim) -> None:
    app = next(a for a in sim.cf.foundation.apps if (a.org, a.space, a.name) == ("acme", "dev", "api"))
    platform = sim.cf.platform
    assert platform is not None
    router = f"http://127.0.0.1:{platform.state().router_port}/"
    host = {"Host": f"{app.local_app}.local"}
    before = {i.pid for i in platform.instances(app.local_app)}
    created = _deployment(sim, {"relationships": {"app": {"data": {"guid": app.guid}}}})
    codes = []

    def finished() -> bool:
        codes.append(httpx.get(router, headers=host, timeout=5).status_code)  # traffic all along
        status = sim.get(f"/v3/deployments/{created['guid']}").json()["status"]
        return bool(status["value"] == "FINALIZED")

    poll(finished, 30, "the rolling deployment FINALIZED")
    assert sim.get(f"/v3/deployments/{created['guid']}").json()["status"]["reason"] == "DEPLOYED"
    after = platform.instances(app.local_app)
    assert len(after) == 2 and not before & {i.pid for i in after}  # every instance replaced
    assert codes and set(codes) == {200}
