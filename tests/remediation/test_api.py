"""The remediation HTTP API over the real engine (SimPlatform, MemoryAuditLog) through FastAPI's TestClient:
listing and detail, approve/reject by a principal and by signed link (single use, expiry, forgery), policies
and their mode, deployments, error codes; and behind Paramedic's auth middleware."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from paramedic.auth import TokenStore, install
from paramedic.config import AuthConfig
from remediation.api import DEPLOY_POLICY, ActionsHandlers, actions_router
from remediation.approval import ApprovalSigner
from remediation.engine import RemediationEngine
from tests.remediation._support import Clock, alert, engine, policy

KEY = b"k" * 32


class _Principal:
    def __init__(self, name: str) -> None:
        self.name, self.role = name, "operator"


async def _fake_auth(request: Request, call_next: RequestResponseEndpoint) -> Response:
    """Stands in for the server's auth: ``X-User`` becomes ``request.state.principal``."""
    user = request.headers.get("x-user")
    if user:
        request.state.principal = _Principal(user)
    return await call_next(request)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def eng(clock: Clock) -> RemediationEngine:
    needs_ok = policy("needs-ok", rails={"approval": {"required": True, "timeout": 600}})
    return engine([needs_ok, policy("auto", trigger={"matchers": ['alertname="Other"']})], clock=clock)


@pytest.fixture
def client(eng: RemediationEngine, clock: Clock) -> Iterator[TestClient]:
    app = FastAPI()
    app.add_middleware(BaseHTTPMiddleware, dispatch=_fake_auth)
    app.include_router(actions_router(eng, signer=ApprovalSigner(KEY), clock=clock))
    with TestClient(app, headers={"X-User": "alice"}) as c:
        yield c


def _pending(client: TestClient, eng: RemediationEngine, app: str = "web") -> str:
    assert client.portal is not None
    (rec,) = client.portal.call(eng.handle, [alert(app)])
    assert rec.status == "pending_approval", rec
    return rec.request.id


def _link(clock: Clock, action_id: str, decision: str = "approve", valid_s: float = 600) -> str:
    token = ApprovalSigner(KEY).sign(action_id, decision, clock() + timedelta(seconds=valid_s))  # type: ignore[arg-type]
    return f"/api/v1/actions/{action_id}/{decision}?token={token}"


def test_list_filter_and_detail(client: TestClient, eng: RemediationEngine, clock: Clock) -> None:
    first = _pending(client, eng, "web")
    clock.advance(5)
    second = _pending(client, eng, "api")
    listed = client.get("/api/v1/actions").json()["actions"]
    assert [a["id"] for a in listed] == [second, first]  # newest first
    assert listed[0]["status"] == "pending_approval" and listed[0]["created_at"].endswith("Z")
    assert [a["id"] for a in client.get("/api/v1/actions", params={"app": "web"}).json()["actions"]] == [
        first
    ]
    assert client.get("/api/v1/actions", params={"policy": "auto"}).json()["actions"] == []
    assert len(client.get("/api/v1/actions", params={"limit": 1}).json()["actions"]) == 1
    assert client.get("/api/v1/actions", params={"since": "2099-01-01T00:00:00Z"}).json()["actions"] == []
    bad = client.get("/api/v1/actions", params={"since": "yesterday"})
    assert bad.status_code == 422 and "RFC 3339" in bad.json()["error"]
    detail = client.get(f"/api/v1/actions/{first}").json()
    assert detail["request"]["policy"] == "needs-ok" and detail["policy_version"]
    assert [e["kind"] for e in detail["events"]][:2] == ["requested", "pending_approval"]
    assert "expires_at" in detail["events"][1]["data"]
    missing = client.get("/api/v1/actions/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "no action nope"}


def test_approve_records_who_and_second_decision_is_409(client: TestClient, eng: RemediationEngine) -> None:
    aid = _pending(client, eng)
    ok = client.post(f"/api/v1/actions/{aid}/approve", json={"reason": "go"})
    assert ok.status_code == 200, ok.text
    approved = next(e for e in ok.json()["events"] if e["kind"] == "approved")
    assert approved["data"]["who"] == "alice"
    again = client.post(f"/api/v1/actions/{aid}/reject", json={})
    assert again.status_code == 409 and "not pending approval" in again.json()["error"]
    assert client.post("/api/v1/actions/nope/approve").status_code == 404


def test_reject_with_reason_and_bad_body(client: TestClient, eng: RemediationEngine) -> None:
    aid = _pending(client, eng)
    assert client.post(f"/api/v1/actions/{aid}/reject", json={"why": 1}).status_code == 422
    rec = client.post(f"/api/v1/actions/{aid}/reject", json={"reason": "not now"}, headers={"X-User": "bob"})
    assert rec.status_code == 200 and rec.json()["status"] == "rejected"
    rejected = next(e for e in rec.json()["events"] if e["kind"] == "rejected")
    assert rejected["data"] == {"who": "bob", "reason": "not now"}


def test_no_principal_is_refused(client: TestClient, eng: RemediationEngine) -> None:
    aid = _pending(client, eng)
    assert client.post(f"/api/v1/actions/{aid}/approve", headers={"X-User": ""}).status_code == 401


def test_signed_link_page_then_post_once(client: TestClient, eng: RemediationEngine, clock: Clock) -> None:
    aid = _pending(client, eng)
    url = _link(clock, aid)
    page = client.get(url, headers={"X-User": ""})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text and "restart_app web" in page.text
    token = url.split("token=")[1]
    assert f'value="{token}"' in page.text
    done = client.post(
        url, data={"token": token, "reason": "<b>ok</b>"}, headers={"X-User": "", "Accept": "text/html"}
    )
    assert done.status_code == 200 and "approved" in done.text
    events = client.get(f"/api/v1/actions/{aid}").json()["events"]
    assert next(e for e in events if e["kind"] == "approved")["data"]["who"] == "signed-link"
    replay = client.post(url, headers={"X-User": ""})
    assert replay.status_code == 409
    assert "already used" in client.get(url).text
    other = _link(clock, aid, "reject")  # an unused link of a decided action: the page says so, no form
    assert "no longer waiting" in client.get(other).text and "<form" not in client.get(other).text


def test_signed_link_forged_wrong_decision_or_expired(
    client: TestClient, eng: RemediationEngine, clock: Clock
) -> None:
    aid = _pending(client, eng)
    forged = f"/api/v1/actions/{aid}/approve?token=9999999999.deadbeef"
    assert client.post(forged, headers={"X-User": ""}).status_code == 403
    assert client.get(forged).status_code == 403
    reject_token = _link(clock, aid, "reject").split("token=")[1]
    assert client.post(f"/api/v1/actions/{aid}/approve?token={reject_token}").status_code == 403
    expired = _link(clock, aid, valid_s=-1)
    refused = client.post(expired, headers={"X-User": ""})
    assert refused.status_code == 403 and "expired" in refused.json()["error"]
    assert client.get(f"/api/v1/actions/{aid}").json()["status"] == "pending_approval"


def test_html_page_escapes(client: TestClient, eng: RemediationEngine, clock: Clock) -> None:
    assert client.portal is not None
    (rec,) = client.portal.call(eng.handle, [alert("<script>x</script>")])
    page = client.get(_link(clock, rec.request.id)).text
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def test_policies_and_mode(client: TestClient, eng: RemediationEngine) -> None:
    pols = {p["name"]: p for p in client.get("/api/v1/policies").json()["policies"]}
    assert set(pols) == {"needs-ok", "auto"}
    assert pols["auto"]["mode"] == "live" and pols["auto"]["breaker"] == "closed" and pols["auto"]["version"]
    changed = client.post("/api/v1/policies/auto/mode", json={"mode": "dry_run"})
    assert changed.status_code == 200 and changed.json() == {
        "name": "auto",
        "mode": "dry_run",
        "who": "alice",
    }
    assert {p["name"]: p["mode"] for p in client.get("/api/v1/policies").json()["policies"]}[
        "auto"
    ] == "dry_run"
    assert client.post("/api/v1/policies/auto/mode", json={"mode": "yolo"}).status_code == 422
    assert client.post("/api/v1/policies/nope/mode", json={"mode": "live"}).status_code == 404


def test_deployments_submit_a_blue_green(client: TestClient, eng: RemediationEngine) -> None:
    bad = client.post("/api/v1/deployments", json={"app": "web", "revision": "v2", "steps": [50, 10]})
    assert bad.status_code == 422 and "increasing" in bad.json()["error"]
    assert client.post("/api/v1/deployments", json={"app": "web"}).status_code == 422
    made = client.post("/api/v1/deployments", json={"app": "web", "revision": "v2", "steps": [10, 100]})
    assert made.status_code == 202, made.text
    body = made.json()
    assert body["policy"] == DEPLOY_POLICY and body["action"] == "blue_green"
    assert body["request"]["params"] == {"type": "blue_green", "revision": "v2", "steps": [10, 100]}
    assert body["request"]["trigger"]["api"]["who"] == "alice"
    assert client.get(f"/api/v1/actions/{body['id']}").status_code == 200
    cf = client.post("/api/v1/deployments", json={"app": "web", "revision": "v3", "gates": "cloudfoundry"})
    assert cf.status_code == 202 and cf.json()["request"]["params"]["gates"] == "cloudfoundry"
    assert (
        client.post("/api/v1/deployments", json={"app": "web", "revision": "v4", "gates": "x"}).status_code
        == 422
    )


def test_behind_paramedic_auth(eng: RemediationEngine, clock: Clock, tmp_path: Path) -> None:
    app = FastAPI()
    install(
        app, AuthConfig(tokens_file=str(tmp_path / "t.json")), base_dir=tmp_path, registry=CollectorRegistry()
    )
    app.include_router(actions_router(eng, signer=ApprovalSigner(KEY), clock=clock))
    store = TokenStore(tmp_path / "t.json")
    op, viewer = store.create("ops-carol", "operator"), store.create("dash", "viewer")
    with TestClient(app) as client:
        aid = _pending(client, eng)
        assert client.get("/api/v1/actions").status_code == 401  # reading needs a viewer by default
        assert client.get("/api/v1/actions", headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
        assert client.post(f"/api/v1/actions/{aid}/approve").status_code == 401
        denied = client.post(f"/api/v1/actions/{aid}/approve", headers={"Authorization": f"Bearer {viewer}"})
        assert denied.status_code == 403 and denied.json()["required_role"] == "operator"
        assert client.post("/api/v1/policies/auto/mode", json={"mode": "live"}).status_code == 401
        ok = client.post(f"/api/v1/actions/{aid}/approve", headers={"Authorization": f"Bearer {op}"})
        assert ok.status_code == 200
        assert next(e for e in ok.json()["events"] if e["kind"] == "approved")["data"]["who"] == "ops-carol"
        other = _pending(client, eng, "api")
        assert client.get(_link(clock, other, "reject")).status_code == 200  # signed link: no token needed
        assert client.post(_link(clock, other, "reject")).status_code == 200


def test_handlers_are_callable_without_a_router(eng: RemediationEngine, clock: Clock) -> None:
    """ActionsHandlers' routes are plain methods over the engine (no HTTP needed to test one)."""
    handlers = ActionsHandlers(eng, clock=clock)
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})  # no principal
    missing = handlers.get_action(request, "nope")
    assert missing.status_code == 404 and json.loads(bytes(missing.body)) == {"error": "no action nope"}
    policies = json.loads(bytes(handlers.list_policies(request).body))["policies"]
    assert [p["name"] for p in policies] == ["needs-ok", "auto"]
    assert handlers.list_actions(request, since="yesterday", limit=100).status_code == 422
