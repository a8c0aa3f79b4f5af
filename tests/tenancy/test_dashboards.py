"""The dashboard as a space-scoped principal: every page and the timeline JSON, through the real auth
middleware (token file) and the real readers over the embedded store, on Cloud Foundry's views (apps keyed by
GUID, the same app name ``api`` in several spaces) and the local platform's (apps grouped into spaces
``demo/team-a``, ``demo/team-b``). Nothing of another tenant may be listed, rendered or confirmed to exist."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from dashboard import InstanceInfo, InstantSample, RangeSeries, Sources, dashboard_router
from dashboard.scoping import NoMetrics, ScopedActions, scoped_sources
from dashboard.views_cf import CloudFoundryViews
from dashboard.views_local import LocalViews
from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.model import labels_from
from paramedic.auth import TokenStore
from paramedic.auth import install as install_auth
from paramedic.config import AuthConfig
from paramedic.dashboard import AuditActions, PromqlMetricsReader
from paramedic.demo import space_user
from paramedic.demo._credentials import CF_SPACE_LOGIN
from platforms.tenancy import Grant, Scope
from remediation.audit.memory import MemoryAuditLog
from remediation.model import ActionRequest, Target

NOW = time.time()  # set again when the module's fixture is built (collection may be minutes earlier)
# Cloud Foundry: the app ``api`` in three spaces (GUID-keyed), the router (foundation-only).
ACME_API = "0a6e0d1c-acme-prod-api"
GLOBEX_API = "7f3b2c9d-globex-prod-api"
ACME_DEV_API = "5c1d8e2a-acme-dev-api"
CF_APPS = {ACME_API: ("acme", "prod"), GLOBEX_API: ("globex", "prod"), ACME_DEV_API: ("acme", "dev")}
# The local platform: apps grouped into spaces of the org ``demo``.
LOCAL_APPS = {"checkout": ("demo", "team-a"), "catalog": ("demo", "team-b")}


def _series() -> list[tuple[dict[str, str], float]]:
    out: list[tuple[dict[str, str], float]] = [
        ({"__name__": "total_requests", "source_id": "gorouter"}, 1000.0),
        ({"__name__": "CapacityRemainingMemory", "source_id": "rep", "index": "0"}, 4096.0),
    ]
    for guid, (org, space) in CF_APPS.items():
        tenant = {"org": org, "space": space, "app": "api"}
        out.append(({"__name__": "cf_app_http_requests_per_second", "app_guid": guid, **tenant}, 5.0))
        out.append(({"__name__": "memory", "source_id": guid, "instance_id": "0", **tenant}, 2.0**27))
        alert = {"__name__": "ALERTS", "alertname": f"CFAppErrorRatioHigh-{org}-{space}", **tenant}
        out.append(({**alert, "alertstate": "firing", "app_guid": guid}, 1.0))
    for app, (org, space) in LOCAL_APPS.items():
        tenant = {"org": org, "space": space, "app": app}
        out.append(({"__name__": "up", "job": "app", "app_instance": "0", **tenant}, 1.0))
        out.append(
            ({"__name__": "ALERTS", "alertname": f"AppDown-{space}", "alertstate": "firing", **tenant}, 1.0)
        )
    return out


def _store(path: Path) -> EmbeddedStore:
    store = EmbeddedStore(path, EmbeddedStoreConfig(path=str(path)), registry=CollectorRegistry())
    found = _series()
    refs = [store.series_ref(labels_from(labels)) for labels, _ in found]
    for t in range(int(NOW) - 600, int(NOW), 15):  # ten minutes, so the timeline sees each alert fire
        store.append(refs, [t * 1000] * len(refs), [v for _, v in found])
    return store


def _audit() -> MemoryAuditLog:
    log = MemoryAuditLog()
    created = datetime.fromtimestamp(NOW - 120, UTC)
    tenants = {**CF_APPS, **LOCAL_APPS}
    for i, (app, (org, space)) in enumerate(tenants.items()):
        trigger = {"alert": {"alertname": "X", "org": org, "space": space, "app": app}}
        request = ActionRequest(
            f"act-{org}-{space}-{i}",
            f"policy-{org}-{space}",
            "v1",
            "restart_app",
            Target(app),
            {},
            "live",
            created,
            trigger=trigger,
            org=org,
            space=space,
        )
        log.record(request)
    # an action the platform could not place, whose alert claims acme/prod (an alert sender chooses its
    # labels): the foundation's, not acme's
    forged = {"alert": {"alertname": "X", "org": "acme", "space": "prod", "app": "gorouter"}}
    log.record(
        ActionRequest(
            "act-forged", "p", "v1", "restart_app", Target("gorouter"), {}, "live", created, trigger=forged
        )
    )
    # an action on the foundation (no org): nobody scoped sees it
    log.record(
        ActionRequest(
            "act-foundation", "policy-router", "v1", "restart_app", Target("gorouter"), {}, "live", created
        )
    )
    return log


class _Alerts:
    def firing(self) -> list[dict[str, Any]]:
        return [
            {
                "labels": {"alertname": f"Alert-{org}-{space}", "org": org, "space": space},
                "annotations": {},
                "starts_at": NOW - 60,
                "state": "active",
            }
            for org, space in [*CF_APPS.values(), *LOCAL_APPS.values()]
        ]


class _Platform:
    """The local adapter: it lists every app of the foundation (so scoped pages must not ask it)."""

    def apps(self) -> list[str]:
        return sorted(LOCAL_APPS)

    def instances(self, app: str) -> list[InstanceInfo]:
        return [InstanceInfo(app, 0, "RUNNING")]


class _PlatformEvents:
    def events(self, app: str, start_s: float, end_s: float) -> tuple[list[dict[str, Any]], str]:
        return [{"t": NOW - 30, "kind": "push", "summary": f"pushed {app}", "actor": "dev"}], ""


TOKENS = {
    "admin": ("admin", []),
    "acme-prod-viewer": ("viewer", [Grant("acme", "prod", "viewer")]),
    "acme-prod-operator": ("operator", [Grant("acme", "prod", "operator")]),
    "acme-org-viewer": ("viewer", [Grant("acme", None, "viewer")]),
    "team-a": ("operator", [Grant("demo", "team-a", "operator")]),
}


class Env:
    def __init__(self, cf: TestClient, local: TestClient, tokens: dict[str, str], password: str) -> None:
        self.cf, self.local, self.tokens = cf, local, tokens
        self.password = password  # the demo's space user's (CF_SPACE_LOGIN)

    def get(self, client: TestClient, who: str, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return client.get(path, headers=headers, params=params or None)


def _app(tmp: Path, sources: Sources, views: Any) -> FastAPI:
    app = FastAPI()
    install_auth(app, AuthConfig(tokens_file="tokens.json"), base_dir=tmp, registry=CollectorRegistry())
    app.include_router(dashboard_router(sources, views=views))
    return app


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    global NOW  # noqa: PLW0603 - the data's timestamps are relative to when the tests run
    NOW = time.time()
    tmp = tmp_path_factory.mktemp("tdash")
    store = _store(tmp / "metrics")
    tokens = TokenStore(tmp / "tokens.json")
    secrets = {name: tokens.create(name, role, grants=grants) for name, (role, grants) in TOKENS.items()}
    password, _ = space_user(tmp, CF_SPACE_LOGIN)  # users.json beside tokens.json, as the demo writes it
    audit = _audit()
    common: dict[str, Any] = {
        "metrics": PromqlMetricsReader(store),
        "alerts": _Alerts(),
        "actions": AuditActions(audit),
        "platform_events": _PlatformEvents(),
    }
    cf = _app(tmp, Sources(**common), CloudFoundryViews())
    local = _app(tmp, Sources(**common, platform=_Platform()), LocalViews())
    base = "http://127.0.0.1"
    try:
        with (
            TestClient(cf, base_url=base, follow_redirects=False) as c1,
            TestClient(local, base_url=base, follow_redirects=False) as c2,
        ):
            yield Env(c1, c2, secrets, password)
    finally:
        store.close()


def _links(page: str) -> set[str]:
    return {html.unescape(m) for m in re.findall(r'href="/apps/([^"/]+)"', page)}


def _window() -> dict[str, float]:
    return {"start": NOW - 900, "end": NOW + 60}


# -- overview ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["acme-prod-viewer", "acme-org-viewer", "acme-prod-operator"])
def test_a_scoped_principal_is_sent_from_the_foundation_overview_to_its_apps(env: Env, who: str) -> None:
    resp = env.get(env.cf, who, "/")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/apps"
    assert "gorouter" not in resp.text and "Foundation overview" not in resp.text
    assert env.get(env.local, "team-a", "/").status_code == 303


def test_the_foundation_overview_still_shows_every_tenant_to_the_admin(env: Env) -> None:
    page = env.get(env.cf, "admin", "/")
    assert page.status_code == 200 and "Foundation overview" in page.text
    assert {ACME_API, GLOBEX_API, ACME_DEV_API} <= _links(page.text)


# -- apps list -----------------------------------------------------------------------------------------------


def test_the_apps_list_shows_only_the_covered_apps(env: Env) -> None:
    assert _links(env.get(env.cf, "admin", "/apps").text) == set(CF_APPS)
    assert _links(env.get(env.cf, "acme-prod-viewer", "/apps").text) == {ACME_API}
    assert _links(env.get(env.cf, "acme-org-viewer", "/apps").text) == {ACME_API, ACME_DEV_API}
    # locally the platform adapter lists every app; the scoped list comes from the scoped metrics instead
    assert _links(env.get(env.local, "admin", "/apps").text) == set(LOCAL_APPS)
    assert _links(env.get(env.local, "team-a", "/apps").text) == {"checkout"}
    assert _links(env.get(env.local, "acme-prod-viewer", "/apps").text) == set()


# -- one app -------------------------------------------------------------------------------------------------


def test_a_foreign_app_page_is_404_even_with_the_same_name(env: Env) -> None:
    own = env.get(env.cf, "acme-prod-viewer", f"/apps/{ACME_API}")
    assert own.status_code == 200 and "acme / prod" in own.text
    for key in (GLOBEX_API, ACME_DEV_API, "api", "gorouter"):
        foreign = env.get(env.cf, "acme-prod-viewer", f"/apps/{key}")
        assert foreign.status_code == 404, key
        assert "globex" not in foreign.text and GLOBEX_API not in foreign.text
    assert env.get(env.cf, "admin", f"/apps/{GLOBEX_API}").status_code == 200
    assert env.get(env.local, "team-a", "/apps/checkout").status_code == 200
    assert env.get(env.local, "team-a", "/apps/catalog").status_code == 404


def test_the_timeline_of_a_foreign_app_is_404_and_of_an_own_app_holds_only_its_events(env: Env) -> None:
    foreign = env.get(env.cf, "acme-prod-viewer", f"/apps/{GLOBEX_API}/events.json", **_window())
    assert foreign.status_code == 404 and "events" not in foreign.json()
    own = env.get(env.cf, "acme-prod-viewer", f"/apps/{ACME_API}/events.json", **_window())
    assert own.status_code == 200
    texts = [e["text"] for e in own.json()["events"]]
    kinds = {e["kind"] for e in own.json()["events"]}
    assert kinds == {"alert", "action", "platform"}, texts
    assert any("CFAppErrorRatioHigh-acme-prod" in t for t in texts)
    assert not any("globex" in t or "acme-dev" in t for t in texts), texts
    local = env.get(env.local, "team-a", "/apps/catalog/events.json", **_window())
    assert local.status_code == 404
    team_a = env.get(env.local, "team-a", "/apps/checkout/events.json", **_window()).json()["events"]
    assert any("AppDown-team-a" in e["text"] for e in team_a)
    assert not any("team-b" in e["text"] for e in team_a)


# -- every page, swept for foreign names ---------------------------------------------------------------------

PAGES = [
    "/apps",
    "/alerts",
    "/remediation",
    "/remediation/actions/act-globex-prod-1",
    "/logs",
    "/explore",
    f"/apps/{ACME_API}",
    f"/apps/{GLOBEX_API}",
]


def test_no_page_renders_anything_of_another_tenant(env: Env) -> None:
    admin_sees = "".join(env.get(env.cf, "admin", p).text for p in PAGES)
    assert GLOBEX_API in admin_sees  # the sweep below looks for something that is there
    for path in PAGES:
        page = env.get(env.cf, "acme-prod-viewer", path)
        assert page.status_code in (200, 404), path
        assert GLOBEX_API not in page.text and ACME_DEV_API not in page.text, path


def test_the_nav_shows_the_scope_and_approval_buttons_follow_operator_grants(env: Env) -> None:
    viewer = env.get(env.cf, "acme-prod-viewer", "/remediation").text
    assert "(acme/prod · viewer)" in viewer
    operator = env.get(env.cf, "acme-prod-operator", "/remediation").text
    assert "(acme/prod · operator)" in operator
    operates = re.search(r'data-operates="([^"]*)"', operator)
    assert operates is not None
    assert json.loads(html.unescape(operates.group(1))) == [{"org": "acme", "space": "prod"}]
    viewer_operates = re.search(r'data-operates="([^"]*)"', viewer)
    assert viewer_operates is not None and json.loads(html.unescape(viewer_operates.group(1))) == []
    admin = env.get(env.cf, "admin", "/remediation").text
    assert "(admin)" in admin and 'data-operates="null"' in admin
    # the foundation overview is not offered to a scoped principal; its silences are said to be scoped
    assert ">Overview</a>" in admin and ">Overview</a>" not in operator
    alerts = env.get(env.cf, "acme-prod-operator", "/alerts").text
    assert 'id="silence-scope"' in alerts and "acme/prod · operator" in alerts
    assert 'id="silence-scope"' not in env.get(env.cf, "admin", "/alerts").text


def test_the_demo_space_user_logs_in_and_sees_its_space_only(env: Env) -> None:
    form = env.cf.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    login = {
        "username": CF_SPACE_LOGIN.name,
        "password": env.password,
        "csrf_token": csrf.group(1),
        "next": "",
    }
    assert env.cf.post("/login", data=login).status_code == 303
    try:
        assert env.cf.get("/").status_code == 303
        apps = env.cf.get("/apps")
        assert _links(apps.text) == {ACME_API}
        assert "dev-acme-prod (acme/prod · operator)" in apps.text
        assert env.cf.get(f"/apps/{GLOBEX_API}").status_code == 404
    finally:
        env.cf.cookies.clear()


# -- the readers ---------------------------------------------------------------------------------------------


class _Unscoped:
    def instant(self, expr: str) -> list[InstantSample]:
        return [InstantSample({"app_guid": GLOBEX_API, "org": "globex", "space": "prod"}, 1.0)]

    def range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        return []


def test_a_reader_that_cannot_scope_itself_reads_nothing_for_a_tenant() -> None:
    scope = Scope.of([Grant("acme", "prod", "viewer")])
    sources = scoped_sources(Sources(metrics=_Unscoped(), platform=_Platform()), scope)
    assert isinstance(sources.metrics, NoMetrics) and sources.platform is None
    foundation = Sources(metrics=_Unscoped())
    assert scoped_sources(foundation, Scope()) is foundation


def test_actions_carry_their_tenant_and_a_scope_sees_only_its_own() -> None:
    reader = AuditActions(_audit())
    rows = reader.recent(limit=50)
    assert {(r["org"], r["space"]) for r in rows} == {*CF_APPS.values(), *LOCAL_APPS.values(), ("", "")}
    scoped = ScopedActions(reader, Scope.of([Grant("acme", None, "viewer")]))
    assert {r["app"] for r in scoped.recent(limit=50)} == {ACME_API, ACME_DEV_API}
    assert len(scoped.recent(limit=1)) == 1
    # the reader's own scoping (the audit query's) agrees, and never trusts the alert's labels
    pushed = reader.scoped(Scope.of([Grant("acme", "prod", "viewer")])).recent(limit=50)
    assert [r["id"] for r in pushed] == [f"act-acme-prod-{list(CF_APPS).index(ACME_API)}"], pushed


@pytest.mark.parametrize(("start", "end"), [("-1e308", "1e308"), ("-1e308", "0"), ("0", "1e300")])
def test_an_own_timeline_over_a_window_past_the_calendar_answers(env: Env, start: str, end: str) -> None:
    """Found by stop 33's audit on the demo: ``start=-1e308`` reached the audit journal as a datetime
    (``OverflowError``: 500). An absurd window answers as any other, with the app's own actions only."""
    resp = env.get(env.local, "team-a", "/apps/checkout/events.json", start=start, end=end)
    assert resp.status_code == 200, resp.text[:300]
    events = resp.json()["events"]
    assert not any("team-b" in e["text"] for e in events), events
