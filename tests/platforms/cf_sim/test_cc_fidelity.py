"""Every endpoint the simulated CC serves, validated against schemas DERIVED from the official CC API v3
examples (tests/support/cf_schema.py): list bodies (pagination + each resource), single resources and error
bodies. A key the examples lack, a missing key, a wrong JSON type or a value outside a documented enum
fails."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.platforms.cf_sim.conftest import Sim
from tests.support.cf_schema import Shape, cc_schemas, derive, examples, validate

SCHEMAS = cc_schemas()


def _check_list(body: dict[str, Any], resource: str) -> list[str]:
    problems = [f"envelope: {k}" for k in sorted(set(body) - {"pagination", "resources", "included"})]
    problems += validate(SCHEMAS["pagination"], body["pagination"], "$.pagination")
    for n, item in enumerate(body["resources"]):
        problems += validate(SCHEMAS[resource], item, f"$.resources[{n}]")
    for kind, items in body.get("included", {}).items():
        schema = {"spaces": "space", "organizations": "organization"}[kind]
        for n, item in enumerate(items):
            problems += validate(SCHEMAS[schema], item, f"$.included.{kind}[{n}]")
    return problems


def _root_schema() -> Shape:
    # the example itself has a link that is null (credhub): any link the foundation lacks may be null
    root = derive(examples("root")["global_root"])
    for link in root.keys["links"].keys.values():
        link.types.add("null")
    return root


def _walk(sim: Sim) -> list[tuple[str, str, str]]:
    """(kind, schema, path) for every endpoint, with GUIDs of real resources."""
    f = sim.cf.foundation
    app = f.apps[0]
    proc = app.process_guid()
    first = {
        r: sim.get(f"/v3/{r}").json()["resources"][0]["guid"]
        for r in ("audit_events", "roles", "users", "organizations", "spaces")
    }
    revision = sim.get(f"/v3/apps/{app.guid}/revisions").json()["resources"][0]["guid"]
    return [
        ("single", "v3_root", "/v3"),
        ("single", "info", "/v3/info"),
        ("list", "app", "/v3/apps"),
        ("list", "app", "/v3/apps?include=space,space.organization&per_page=1&page=2"),
        ("single", "app", f"/v3/apps/{app.guid}"),
        ("list", "process", "/v3/processes"),
        ("list", "process", f"/v3/apps/{app.guid}/processes"),
        ("single", "process", f"/v3/processes/{proc}"),
        ("single", "process", f"/v3/apps/{app.guid}/processes/web"),
        ("stats", "process_stat", f"/v3/processes/{proc}/stats"),
        ("stats", "process_stat", f"/v3/apps/{app.guid}/processes/web/stats"),
        ("single", "process_instances", f"/v3/processes/{proc}/process_instances"),
        ("list", "revision", f"/v3/apps/{app.guid}/revisions"),
        ("list", "revision", f"/v3/apps/{app.guid}/revisions/deployed"),
        ("single", "revision", f"/v3/revisions/{revision}"),
        ("list", "deployment", "/v3/deployments"),
        ("list", "organization", "/v3/organizations"),
        ("single", "organization", f"/v3/organizations/{first['organizations']}"),
        ("list", "space", "/v3/spaces"),
        ("single", "space", f"/v3/spaces/{first['spaces']}"),
        ("list", "audit_event", "/v3/audit_events"),
        ("single", "audit_event", f"/v3/audit_events/{first['audit_events']}"),
        ("list", "role", "/v3/roles"),
        ("single", "role", f"/v3/roles/{first['roles']}"),
        ("list", "user", "/v3/users"),
        ("single", "user", f"/v3/users/{first['users']}"),
        ("error", "error", "/v3/apps/00000000-0000-0000-0000-000000000000"),
        ("error", "error", "/v3/apps?per_page=9999"),
        ("error", "error", "/v3/nothing-here"),
        ("error", "error", "/v3/jobs/00000000-0000-0000-0000-000000000000"),
    ]


def test_every_endpoint_matches_the_official_examples(sim: Sim) -> None:
    app = sim.cf.foundation.apps[0]
    # make sure deployments, jobs and a process with stats exist to be listed and fetched
    deployment = sim.post(
        "/v3/deployments", body={"strategy": "canary", "relationships": {"app": {"data": {"guid": app.guid}}}}
    )
    assert deployment.status_code == 201, deployment.text
    problems: list[str] = validate(SCHEMAS["deployment"], deployment.json(), "POST /v3/deployments")
    walk = _walk(sim)
    walk.append(("single", "deployment", f"/v3/deployments/{deployment.json()['guid']}"))
    # during the canary its instances are a second web process (named by new_processes), with its own stats
    canary = deployment.json()["new_processes"][0]["guid"]
    assert canary != app.process_guid()
    walk += [
        ("single", "process", f"/v3/processes/{canary}"),
        ("stats", "process_stat", f"/v3/processes/{canary}/stats"),
        ("single", "process_instances", f"/v3/processes/{canary}/process_instances"),
        ("list", "process", f"/v3/processes?guids={canary}"),
    ]
    checked = 0
    for kind, schema, path in walk:
        resp = httpx.get(f"{sim.cf.cc_url}{path}", headers=sim.auth("admin"), timeout=30)
        body = resp.json()
        if kind == "error":
            assert resp.status_code >= 400, path
        else:
            assert resp.status_code == 200, (path, resp.text)
        if kind == "list":
            problems += [f"GET {path} {p}" for p in _check_list(body, schema)]
            checked += len(body["resources"])
        elif kind == "stats":
            assert body["resources"], path
            problems += [
                f"GET {path} {p}"
                for p in _check_list({"pagination": None, **body}, schema)
                if "pagination" not in p and not p.startswith("envelope")
            ]
        else:
            problems += [f"GET {path} {p}" for p in validate(SCHEMAS[schema], body)]
        checked += 1
    root = httpx.get(f"{sim.cf.cc_url}/").json()
    del root["links"]["status_probe"]  # the conftest's probe server (extra_servers hook), not a CF link
    problems += [f"GET / {p}" for p in validate(_root_schema(), root)]
    cancel = sim.post(f"/v3/deployments/{deployment.json()['guid']}/actions/cancel")
    problems += [f"cancel {p}" for p in validate(SCHEMAS["deployment"], cancel.json())]
    problems += [f"401 {p}" for p in validate(SCHEMAS["error"], httpx.get(f"{sim.cf.cc_url}/v3/apps").json())]
    assert problems == [], "\n".join(problems)
    assert checked > 40


def test_job_answers_match_the_examples(sim: Sim) -> None:
    space = sim.cf.foundation.spaces[3]  # globex/dev: no apps, an empty manifest is a no-op job
    headers = {**sim.auth("admin"), "Content-Type": "application/x-yaml"}
    resp = httpx.post(
        f"{sim.cf.cc_url}/v3/spaces/{space.guid}/actions/apply_manifest",
        content=b"applications: []\n",
        headers=headers,
    )
    assert resp.status_code == 202
    job = httpx.get(resp.headers["Location"], headers=headers).json()
    assert validate(SCHEMAS["job"], job) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"guid": 1},
        {"extra": True},
        {"state": "NOT_A_STATE"},
    ],
)
def test_the_derived_schema_rejects_what_the_examples_do_not_allow(sim: Sim, bad: dict[str, Any]) -> None:
    app = sim.get(f"/v3/apps/{sim.cf.foundation.apps[0].guid}").json()
    assert validate(SCHEMAS["app"], app) == []
    assert validate(SCHEMAS["app"], {**app, **bad}) != []
    without = {k: v for k, v in app.items() if k != "links"}
    assert validate(SCHEMAS["app"], without) != []
