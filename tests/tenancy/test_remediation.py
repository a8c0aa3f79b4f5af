"""Tenancy of remediation, tried as an attacker: a space's principals against another space's actions.

A real app (the remediation router behind Paramedic's auth middleware, tokens in a real token store) over the
real engine with a durable SQLite journal, on the simulated foundation's layout (acme/prod api + web,
acme/dev api, globex/prod api: the same app name ``api`` in three spaces) plus a foundation-owned ``router``.
Both ways a platform tells tenancy are run (``flavor``):

* ``local``: alerts carry no org/space; the platform's :class:`platforms.base.TenantResolver` answers from
  ``platform.spaces`` of the local platform's config (validated by :class:`LocalPlatformConfig`);
* ``cf``: alerts carry ``org``/``space``/``app_guid`` like Cloud Foundry's discovered targets, apps are keyed
  by GUID (:func:`platforms.cf_sim.foundation.guid_for`), the resolver answers from the foundation's layout.

Every action waits for approval, so each test can try to see, approve or reject another tenant's.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from alerting.dispatch._route import build_route
from alerting.dispatch.config import RouteConfig
from alerting.model import Alert
from paramedic.auth import TokenStore, install
from paramedic.config import AuthConfig
from platforms.cf_sim.foundation import CFApp, default_foundation
from platforms.config import LocalPlatformConfig
from platforms.tenancy import Scope, parse_grant
from remediation._metrics import RemediationMetrics
from remediation._tenancy import Tenants
from remediation.api import actions_router
from remediation.audit import MemoryAuditLog, SqliteAuditLog
from remediation.engine import RemediationEngine
from remediation.model import TERMINAL_STATUSES, ActionRequest, Target
from remediation.sim import SimPlatform
from tests.remediation._support import T0, Clock, Sink, engine, policy, wait_status

FOUNDATION = default_foundation()
APPS = {(a.org, a.space, a.name): a for a in FOUNDATION.apps}
ACME_API, ACME_WEB = APPS["acme", "prod", "api"], APPS["acme", "prod", "web"]
DEV_API, GLOBEX_API = APPS["acme", "dev", "api"], APPS["globex", "prod", "api"]
ROUTER = "router"  # an app of no space: the foundation's


class TenantSim(SimPlatform):
    """The simulated platform's verbs plus a tenant resolver (what LocalPlatform/CloudFoundryPlatform add)."""

    def __init__(self, apps: dict[str, int], tenant_of: Callable[[str], tuple[str, str] | None]) -> None:
        super().__init__(apps)
        self._tenant_of = tenant_of
        self.asked: list[str] = []

    def tenant_of(self, app: str) -> tuple[str, str] | None:
        self.asked.append(app)
        return self._tenant_of(app)


@dataclass
class Flavor:
    name: str
    key: Callable[[CFApp], str]  # the platform's app key
    labels: Callable[[CFApp], dict[str, str]]  # what an alert about the app carries besides alertname
    resolver: Callable[[str], tuple[str, str] | None]
    app_label: str


def _local_flavor() -> Flavor:
    cfg = LocalPlatformConfig.model_validate(
        {
            "type": "local",
            "state_dir": "unused",
            "spaces": {
                f"{org}/{space}": [a.local_app for a in FOUNDATION.apps_in(org, space)]
                for org, space in {(a.org, a.space) for a in FOUNDATION.apps}
            },
        }
    )
    tenants = cfg.tenants()
    return Flavor(
        "local",
        key=lambda a: a.local_app,
        labels=lambda a: {"app": a.local_app},
        resolver=tenants.get,
        app_label="app",
    )


def _cf_flavor() -> Flavor:
    by_guid = {a.guid: (a.org, a.space) for a in FOUNDATION.apps}
    return Flavor(
        "cf",
        key=lambda a: a.guid,
        labels=lambda a: {"app": a.name, "app_guid": a.guid, "org": a.org, "space": a.space},
        resolver=by_guid.get,
        app_label="app_guid",
    )


GRANTS: dict[str, list[tuple[str, str]]] = {
    "acme-prod-op": [("acme/prod", "operator")],
    "acme-prod-viewer": [("acme/prod", "viewer")],
    "acme-viewer": [("acme", "viewer")],
    "acme-dev-op": [("acme/dev", "operator")],
    "globex-op": [("globex/prod", "operator")],
    "acme-prod-viewer-dev-op": [("acme/prod", "viewer"), ("acme/dev", "operator")],
}


@dataclass
class World:
    flavor: Flavor
    client: TestClient
    engine: RemediationEngine
    platform: TenantSim
    sink: Sink
    journal: Path
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # "acme/prod/api" | "router" -> pending action id

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str, **params: Any) -> httpx.Response:
        return self.client.get(path, headers=self.as_(who), params=params)

    def post(self, path: str, who: str, body: Any = None) -> httpx.Response:
        return self.client.post(path, headers=self.as_(who), json=body if body is not None else {})

    def listed(self, who: str, **params: Any) -> set[str]:
        resp = self.get("/api/v1/actions", who, **params)
        assert resp.status_code == 200, resp.text
        return {a["id"] for a in resp.json()["actions"]}

    def tenants(self, who: str, **params: Any) -> set[tuple[str | None, str | None]]:
        """The tenants of the actions ``who`` lists, as the journal recorded them."""
        out = set()
        for action_id in self.listed(who, **params):
            rec = self.engine.audit.get(action_id)
            assert rec is not None
            out.add((rec.request.org, rec.request.space))
        return out

    def status(self, action_id: str) -> str:
        rec = self.engine.audit.get(action_id)
        assert rec is not None
        return rec.status

    def alert(self, app: CFApp | None, alertname: str = "Down") -> Alert:
        labels = {"app": ROUTER, self.flavor.app_label: ROUTER} if app is None else self.flavor.labels(app)
        return Alert({"alertname": alertname, "app_instance": "0", **labels}, {}, starts_at=T0)

    def handle(self, alerts: list[Alert]) -> list[Any]:
        assert self.client.portal is not None
        return list(self.client.portal.call(self.engine.handle, alerts))


def _path(app: CFApp) -> str:
    return f"{app.org}/{app.space}/{app.name}"


@pytest.fixture(scope="module", params=[_local_flavor, _cf_flavor], ids=["local", "cf"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    flavor: Flavor = request.param()
    tmp = tmp_path_factory.mktemp(f"tremed-{flavor.name}")
    platform = TenantSim({**{flavor.key(a): 2 for a in FOUNDATION.apps}, ROUTER: 2}, flavor.resolver)
    target = {"app_label": flavor.app_label}
    approval = {"approval": {"required": True, "timeout": 3600}}
    policies = [
        policy("restart-on-down", target=target, rails=approval),  # a foundation policy
        policy(
            "acme-prod-slow",
            trigger={"matchers": ['alertname="Slow"']},
            target=target,
            rails=approval,
            scope={"org": "acme", "space": "prod"},
        ),
        policy(
            "acme-prod-fixed",  # a space policy whose fixed target is another tenant's app
            trigger={"matchers": ['alertname="Fixed"']},
            target={"app": flavor.key(GLOBEX_API)},
            scope=[{"org": "acme", "space": "prod"}, {"org": "acme", "space": "dev"}],
        ),
    ]
    sink = Sink()
    journal = tmp / "audit.sqlite"
    eng = engine(policies, platform, audit=SqliteAuditLog(journal), clock=Clock(), notify=sink)
    app = FastAPI()
    tokens_file = tmp / "tokens.json"
    install(app, AuthConfig(tokens_file=str(tokens_file)), base_dir=tmp, registry=CollectorRegistry())
    app.include_router(actions_router(eng))
    store = TokenStore(tokens_file)
    with TestClient(app) as client:
        w = World(flavor, client, eng, platform, sink, journal)
        w.tokens["admin"] = store.create("admin", "admin")
        for name, grants in GRANTS.items():
            parsed = [parse_grant(t, r) for t, r in grants]
            role = "operator" if any(g.role == "operator" for g in parsed) else "viewer"
            w.tokens[name] = store.create(name, role, grants=parsed)
        for a in FOUNDATION.apps:
            (rec,) = w.handle([w.alert(a)])
            assert rec.status == "pending_approval", rec
            w.ids[_path(a)] = rec.request.id
        (rec,) = w.handle([w.alert(None)])
        assert rec.status == "pending_approval", rec
        w.ids[ROUTER] = rec.request.id
        yield w


def test_every_action_carries_its_target_apps_org_and_space(world: World) -> None:
    for a in FOUNDATION.apps:
        detail = world.get(f"/api/v1/actions/{world.ids[_path(a)]}", "admin").json()
        assert (detail["org"], detail["space"]) == (a.org, a.space)
        assert detail["request"]["target"]["app"] == world.flavor.key(a)
        assert {(e["org"], e["space"]) for e in detail["events"]} == {(a.org, a.space)}  # audit entries
    router = world.get(f"/api/v1/actions/{world.ids[ROUTER]}", "admin").json()
    assert (router["org"], router["space"]) == (None, None)  # an app of no space: the foundation's
    # Persisted in the journal's own columns (what scoped queries select on), not only in the JSON body.
    with sqlite3.connect(world.journal) as db:
        rows = dict((i, (o, s)) for i, o, s in db.execute("SELECT id, org, space FROM requests").fetchall())
    assert rows[world.ids["globex/prod/api"]] == ("globex", "prod")
    assert rows[world.ids[ROUTER]] == (None, None)


def test_the_platform_is_asked_for_every_target(world: World) -> None:
    assert {world.flavor.key(a) for a in FOUNDATION.apps} | {ROUTER} <= set(world.platform.asked)


@pytest.mark.parametrize("claim", [{"org": "acme", "space": "prod"}, {"org": "acme"}])
def test_an_alert_claiming_another_tenant_is_refused_under_the_platforms(
    world: World, claim: dict[str, str]
) -> None:
    """Whoever may post alerts cannot hand globex's app (or a foundation app) to acme by labelling it."""

    def forge(app: CFApp | None) -> Alert:
        labels = {k: v for k, v in world.alert(app).labels.items() if k not in ("org", "space")}
        return Alert({**labels, **claim, "forged": "/".join(claim.values())}, {}, starts_at=T0)

    forged = [forge(GLOBEX_API), forge(None)]
    globex, router = world.handle(forged)
    for rec, tenant in ((globex, ("globex", "prod")), (router, (None, None))):
        assert rec.status == "refused" and (rec.request.org, rec.request.space) == tenant
        refusal = rec.events[-1].data
        assert refusal["rail"] == "scope" and "the alert says acme" in refusal["reason"]
        assert rec.request.id not in world.listed("acme-prod-op") | world.listed("acme-viewer")
        assert world.post(f"/api/v1/actions/{rec.request.id}/approve", "acme-prod-op").status_code == 404
    assert globex.request.id in world.listed("globex-op")


def test_actions_list_never_includes_foreign_ones(world: World) -> None:
    """Other tests add actions to the same journal: every listing is checked against the journal's own
    record of each listed action's tenant, and must include the fixture's actions of the scope."""
    assert set(world.ids.values()) <= world.listed("admin")
    assert world.tenants("admin") >= {("acme", "prod"), ("acme", "dev"), ("globex", "prod"), (None, None)}
    mine = {world.ids["acme/prod/api"], world.ids["acme/prod/web"]}
    for who in ("acme-prod-op", "acme-prod-viewer"):
        assert mine <= world.listed(who) and world.tenants(who) == {("acme", "prod")}
        # Every filter a stranger can send stays inside the scope: the same-named app, status, policy, limit.
        assert world.listed(who, app=world.flavor.key(GLOBEX_API)) == set()
        assert world.listed(who, app=world.flavor.key(DEV_API)) == set()
        assert world.listed(who, app=ROUTER) == set()
        assert world.listed(who, app=world.flavor.key(ACME_API)) >= {world.ids["acme/prod/api"]}
        assert world.tenants(who, app=world.flavor.key(ACME_API)) == {("acme", "prod")}
        assert world.tenants(who, policy="restart-on-down", limit=10_000) == {("acme", "prod")}
        assert world.tenants(who, status="refused") <= {("acme", "prod")}
        assert len(world.listed(who, limit=1)) == 1
    acme = mine | {world.ids["acme/dev/api"]}
    assert acme <= world.listed("acme-viewer")  # an org grant: all its spaces
    assert world.tenants("acme-viewer") == {("acme", "prod"), ("acme", "dev")}
    assert world.tenants("acme-prod-viewer-dev-op") == {("acme", "prod"), ("acme", "dev")}
    assert world.ids["globex/prod/api"] in world.listed("globex-op")
    assert world.tenants("globex-op") == {("globex", "prod")}


def test_foreign_single_action_is_404_like_an_unknown_one(world: World) -> None:
    unknown = world.get("/api/v1/actions/0123456789abcdef0123", "acme-prod-op")
    assert unknown.status_code == 404
    for foreign in ("acme/dev/api", "globex/prod/api", ROUTER):
        aid = world.ids[foreign]
        resp = world.get(f"/api/v1/actions/{aid}", "acme-prod-op")
        assert resp.status_code == 404 and resp.json() == {"error": f"no action {aid}"}
        assert foreign not in resp.text and "globex" not in resp.text
    assert world.get(f"/api/v1/actions/{world.ids['acme/prod/api']}", "acme-prod-viewer").status_code == 200


def test_operator_cannot_approve_or_reject_another_spaces_action(world: World) -> None:
    # "nothing changed" is against the status before: the module's later tests decide some of these
    # actions themselves (pending_approval when this test runs in file order)
    for foreign in ("acme/dev/api", "globex/prod/api", ROUTER):
        aid = world.ids[foreign]
        before = world.status(aid)
        for decision in ("approve", "reject"):
            resp = world.post(f"/api/v1/actions/{aid}/{decision}", "acme-prod-op", {"reason": "mine now"})
            assert resp.status_code == 404, resp.text
            assert resp.json() == {"error": f"no action {aid}"}
        assert world.status(aid) == before  # nothing changed
    # acme/dev's operator cannot reach acme/prod's twin app either.
    aid = world.ids["acme/prod/api"]
    before = world.status(aid)
    assert world.post(f"/api/v1/actions/{aid}/approve", "acme-dev-op").status_code == 404
    assert world.post(f"/api/v1/actions/{aid}/approve", "globex-op").status_code == 404
    assert world.status(aid) == before


def test_a_viewer_of_the_space_gets_403_naming_its_scope(world: World) -> None:
    aid = world.ids["acme/prod/web"]
    for who in ("acme-prod-viewer", "acme-viewer"):  # only viewer grants: the route table already refuses
        resp = world.post(f"/api/v1/actions/{aid}/approve", who)
        assert resp.status_code == 403 and resp.json()["required_role"] == "operator", resp.text
    # An operator elsewhere (acme/dev) passes the route table; the handler refuses on the action's space.
    resp = world.post(f"/api/v1/actions/{aid}/approve", "acme-prod-viewer-dev-op")
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert "viewer of acme/prod" in error and "operator of acme/dev" in error  # its scope, named
    assert error.endswith("may not approve actions of acme/prod")
    assert world.status(aid) == "pending_approval"


def test_space_operator_approves_its_own_action(world: World) -> None:
    aid = world.ids["acme/prod/api"]
    resp = world.post(f"/api/v1/actions/{aid}/approve", "acme-prod-op", {"reason": "ok"})
    assert resp.status_code == 200, resp.text
    approved = next(e for e in resp.json()["events"] if e["kind"] == "approved")
    assert approved["data"]["who"] == "acme-prod-op"
    assert (approved["org"], approved["space"]) == ("acme", "prod")
    assert world.status(aid) != "pending_approval"
    # The same-named apps in other spaces were not touched by it.
    assert world.status(world.ids["acme/dev/api"]) == world.status(world.ids["globex/prod/api"])
    assert world.status(world.ids["globex/prod/api"]) == "pending_approval"
    # An operator grant on acme/dev (beside a viewer grant on acme/prod) decides acme/dev's action only.
    dev = world.ids["acme/dev/api"]
    rejected = world.post(f"/api/v1/actions/{dev}/reject", "acme-prod-viewer-dev-op", {"reason": "no"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


def test_approval_requests_carry_the_space_and_route_to_its_receivers(world: World) -> None:
    """The approval request of a space's action reaches that space's receiver through the dispatcher's own
    routing tree (per-space routes are ordinary label matchers); the foundation's goes to the root."""
    route = build_route(
        RouteConfig.model_validate(
            {
                "receiver": "foundation-ops",
                "routes": [
                    {"matchers": ['org="acme"', 'space="prod"'], "receiver": "acme-prod"},
                    {"matchers": ['org="acme"', 'space="dev"'], "receiver": "acme-dev"},
                    {"matchers": ['org="globex"'], "receiver": "globex"},
                ],
            }
        )
    )
    receiver = {
        "acme/prod/api": "acme-prod",
        "acme/prod/web": "acme-prod",
        "acme/dev/api": "acme-dev",
        "globex/prod/api": "globex",
    }
    pending = world.sink.named("RemediationApprovalPending")
    by_action = {a.labels["action_id"]: a.labels for a in pending}
    for a in FOUNDATION.apps:
        labels = by_action[world.ids[_path(a)]]
        assert (labels["org"], labels["space"]) == (a.org, a.space)
        assert [r.receiver for r in route.match(labels)] == [receiver[_path(a)]]
    router = by_action[world.ids[ROUTER]]
    assert "org" not in router and [r.receiver for r in route.match(router)] == ["foundation-ops"]


def test_policies_are_listed_by_scope_and_modes_and_deployments_stay_foundation(world: World) -> None:
    def names(who: str) -> set[str]:
        return {p["name"] for p in world.get("/api/v1/policies", who).json()["policies"]}

    assert names("admin") == {"restart-on-down", "acme-prod-slow", "acme-prod-fixed"}
    assert names("acme-prod-op") == {"acme-prod-slow"}  # not acme/dev's half of acme-prod-fixed
    assert names("acme-viewer") == {"acme-prod-slow", "acme-prod-fixed"}
    assert names("globex-op") == set()
    listed = world.get("/api/v1/policies", "admin").json()["policies"]
    assert next(p for p in listed if p["name"] == "acme-prod-slow")["scope"] == [
        {"org": "acme", "space": "prod"}
    ]
    assert next(p for p in listed if p["name"] == "restart-on-down")["scope"] is None
    mode = world.post("/api/v1/policies/acme-prod-slow/mode", "acme-prod-op", {"mode": "dry_run"})
    assert mode.status_code == 403
    deploy = world.post(
        "/api/v1/deployments", "acme-prod-op", {"app": world.flavor.key(ACME_API), "revision": "v1"}
    )
    assert deploy.status_code == 403
    assert world.engine.policies()[1].mode == "live"


def test_a_space_policy_acts_only_in_its_spaces(world: World) -> None:
    mine, theirs = world.alert(ACME_WEB, "Slow"), world.alert(GLOBEX_API, "Slow")
    recs = world.handle([mine, theirs])
    acted = {r.request.target.app: r for r in recs}
    assert acted[world.flavor.key(ACME_WEB)].status == "pending_approval"
    foreign = acted.get(world.flavor.key(GLOBEX_API))
    if world.flavor.name == "cf":
        assert foreign is None  # the alert names globex/prod: it does not match the policy at all
    else:  # no labels to tell: planned, resolved to globex/prod, refused before any rail
        assert foreign is not None and foreign.status == "refused"
        assert foreign.events[-1].data["rail"] == "scope"
    # A fixed target outside the policy's spaces is refused, whoever's alert triggered it.
    (fixed,) = world.handle([world.alert(ACME_API, "Fixed")])
    assert fixed.status == "refused" and (fixed.request.org, fixed.request.space) == ("globex", "prod")
    refusal = fixed.events[-1].data
    assert refusal["rail"] == "scope" and "outside the policy's scope" in refusal["reason"]
    assert not [c for c in world.platform.calls if c.args and c.args[0] == world.flavor.key(GLOBEX_API)]


def test_a_deployment_belongs_to_its_apps_space(world: World) -> None:
    body = {"app": world.flavor.key(ACME_WEB), "revision": "v1", "steps": [100], "step_duration_s": 0.05}
    made = world.post("/api/v1/deployments", "admin", body)
    assert made.status_code == 202, made.text
    aid = made.json()["id"]
    assert (made.json()["org"], made.json()["space"]) == ("acme", "prod")
    assert world.client.portal is not None
    world.client.portal.call(wait_status, world.engine, aid, TERMINAL_STATUSES)
    assert aid in world.listed("acme-prod-viewer")
    assert aid not in world.listed("globex-op") | world.listed("acme-dev-op")
    assert world.get(f"/api/v1/actions/{aid}", "globex-op").status_code == 404


# -- the journal, the local platform's config, the CF adapter ----------------------------------------------


def _request(i: int, org: str | None, space: str | None) -> ActionRequest:
    return ActionRequest(
        id=f"r{i}", policy="p", policy_version="", action="restart_app", target=Target(f"app{i}"),
        params={}, mode="live", created_at=T0 + timedelta(seconds=i), org=org, space=space,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_scoped_queries_of_both_journals(kind: str, tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path / "a.sqlite") if kind == "sqlite" else MemoryAuditLog()
    for i, (org, space) in enumerate([("acme", "prod"), ("acme", "dev"), ("globex", "prod"), (None, None)]):
        log.record(_request(i, org, space))

    def ids(scope: Scope) -> set[str]:
        return {r.request.id for r in log.query(scope=scope, limit=100)}

    assert ids(Scope()) == {"r0", "r1", "r2", "r3"}
    assert ids(Scope.of([parse_grant("acme/prod", "viewer")])) == {"r0"}
    assert ids(Scope.of([parse_grant("acme", "viewer")])) == {"r0", "r1"}
    assert ids(Scope.of([parse_grant("acme/prod", "viewer"), parse_grant("globex", "operator")])) == {
        "r0",
        "r2",
    }
    assert ids(Scope.of([])) == set()
    assert [r.request.id for r in log.query(scope=Scope.of([parse_grant("acme", "viewer")]), limit=1)] == [
        "r1"
    ]


def test_a_journal_from_before_tenancy_is_migrated_and_its_records_are_the_foundations(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    old_body = (
        '{"action":"restart_app","created_at":"2024-05-01T12:00:00+00:00","id":"old1","mode":"live",'
        '"params":{},"policy":"p","policy_version":"","target":{"app":"api","instance":null},"trigger":{}}'
    )
    with sqlite3.connect(path) as db:  # the schema as released before tenancy
        db.executescript(
            "CREATE TABLE requests (id TEXT PRIMARY KEY, policy TEXT NOT NULL, app TEXT NOT NULL,"
            " instance INTEGER, created_at REAL NOT NULL, body TEXT NOT NULL);"
            "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, action_id TEXT NOT NULL,"
            " kind TEXT NOT NULL, at REAL NOT NULL, data TEXT NOT NULL);"
        )
        db.execute("INSERT INTO requests VALUES ('old1', 'p', 'api', NULL, ?, ?)", (T0.timestamp(), old_body))
    log = SqliteAuditLog(path)
    rec = log.get("old1")
    assert rec is not None and (rec.request.org, rec.request.space) == (None, None)
    assert [r.request.id for r in log.query()] == ["old1"]
    assert log.query(scope=Scope.of([parse_grant("acme/prod", "operator")])) == []
    assert log.record(_request(9, "acme", "prod"))  # new records carry their tenant in the migrated table
    assert [r.request.id for r in log.query(scope=Scope.of([parse_grant("acme/prod", "viewer")]))] == ["r9"]
    log.close()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), sqlite3.connect(path) as db:
        db.execute("UPDATE requests SET org = 'acme' WHERE id = 'old1'")  # still append-only


@pytest.mark.parametrize(
    ("spaces", "error"),
    [
        ({"acme": ["api"]}, "'acme': name a space, ORG/SPACE"),
        ({"acme/prod/x": ["api"]}, "'acme/prod/x': expected ORG or ORG/SPACE"),
        ({"acme/prod": ["api"], "acme/dev": ["api"]}, "app 'api' is already in space acme/prod"),
    ],
)
def test_local_spaces_config_is_validated(spaces: dict[str, list[str]], error: str) -> None:
    with pytest.raises(ValidationError, match="spaces") as info:
        LocalPlatformConfig.model_validate({"type": "local", "state_dir": "x", "spaces": spaces})
    assert error in str(info.value)


def test_local_platform_answers_tenants_from_its_spaces(tmp_path: Path) -> None:
    from platforms.local import LocalPlatform  # noqa: PLC0415 - only this test needs the adapter

    platform = LocalPlatform(
        tmp_path, registry=CollectorRegistry(), tenants={"api-acme-prod": ("acme", "prod")}
    )
    assert platform.tenant_of("api-acme-prod") == ("acme", "prod")
    assert platform.tenant_of("router") is None


def test_cloud_foundry_adapter_answers_tenants_by_guid_never_by_a_shared_name() -> None:
    from platforms.cloudfoundry import CloudFoundryPlatform  # noqa: PLC0415
    from tests.platforms.cloudfoundry.conftest import FakeClock, make_config  # noqa: PLC0415
    from tests.platforms.cloudfoundry.fake_cf import API_A, API_B, FakeCF, serve  # noqa: PLC0415

    for fake in serve(FakeCF(twins=True)):
        clock = FakeClock()
        cf = CloudFoundryPlatform(
            make_config(fake),
            registry=CollectorRegistry(),
            clock=clock,
            sleep=clock.sleep,
            poll_interval_s=1.0,
        )
        try:
            assert cf.tenant_of(API_A) == ("my-organization", "my-space")
            assert cf.tenant_of(API_B) == ("my-organization", "other-space")
            assert cf.tenant_of("my-organization/other-space/api") == ("my-organization", "other-space")
            assert cf.tenant_of("api") is None  # two spaces have an "api": never a guess
            assert cf.tenant_of("00000000-0000-4000-8000-000000000000") is None
        finally:
            cf.close()


def test_a_failing_resolver_fails_closed() -> None:
    """An adapter that raises instead of answering: the action is the foundation's, a claimed tenant is
    refused, the error is counted and not cached."""

    class Broken:
        def tenant_of(self, app: str) -> tuple[str, str] | None:
            raise RuntimeError(f"cannot place {app}")

    registry = CollectorRegistry()
    tenants = Tenants(Broken(), RemediationMetrics(registry))
    for _ in range(2):
        stamped, mismatch = asyncio.run(tenants.stamp(_request(1, "acme", "prod")))
        assert (stamped.org, stamped.space) == (None, None)
        assert mismatch is not None and "the alert says acme/prod" in mismatch
    errors = registry.get_sample_value("paramedic_remediation_tenant_lookups_total", {"result": "error"})
    assert errors == 2
