"""``/api/v1/targets`` for a tenant: its apps' targets only, no platform component, no dropped target.
The principal is set by a small middleware standing in for the auth middleware (``test_metrics_api`` goes
through the real one); the manager is a stand-in holding real ``TargetStatus`` snapshots."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from collector.api import targets_router
from collector.status import CollectorHealth, TargetStatus
from metrics_store.model import labels_from
from paramedic.auth import Principal
from platforms.tenancy import Grant

TARGETS = [
    {"job": "cf-app", "instance": "a:1", "org": "acme", "space": "prod", "app": "api"},
    {"job": "cf-app", "instance": "a:2", "org": "acme", "space": "dev", "app": "api"},
    {"job": "cf-app", "instance": "g:1", "org": "globex", "space": "prod", "app": "api"},
    {"job": "router", "instance": "router:9101"},
]


class _Dropped:
    discovered_labels = labels_from({"__address__": "10.0.0.9:8080", "__meta_cf_org": "globex"})


class _Manager:
    def targets(self) -> list[TargetStatus]:
        return [
            TargetStatus(
                job=t["job"],
                scrape_url=f"http://{t['instance']}/metrics",
                global_url=f"http://{t['instance']}/metrics",
                labels=labels_from(t),
                discovered_labels=labels_from({"__address__": t["instance"]}),
                health="up",
                last_error="",
                last_scrape=None,
                last_scrape_duration_s=0.0,
                interval_s=15.0,
                timeout_s=10.0,
            )
            for t in TARGETS
        ]

    def dropped_targets(self) -> list[_Dropped]:
        return [_Dropped()]

    def health(self) -> CollectorHealth:
        return CollectorHealth(True, True, 4, 0, 0, {"cf-apps": "CC: org globex: 503"})


def _client() -> TestClient:
    app = FastAPI()
    app.include_router(targets_router(_Manager()))  # type: ignore[arg-type]
    grants = {"acme-prod": [Grant("acme", "prod", "viewer")], "acme": [Grant("acme", None, "operator")]}

    @app.middleware("http")
    async def principal(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        who = request.headers.get("x-who", "")
        if who:
            request.state.principal = Principal.scoped(who, "viewer", grants[who])
        return await call_next(request)

    return TestClient(app)


def _tenants(body: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (t["labels"].get("org", ""), t["labels"].get("space", "")) for t in body["data"]["activeTargets"]
    )


def test_targets_are_filtered_by_scope() -> None:
    client = _client()
    everything = client.get("/api/v1/targets").json()
    assert _tenants(everything) == sorted((t.get("org", ""), t.get("space", "")) for t in TARGETS)
    assert len(everything["data"]["droppedTargets"]) == 1
    scoped = client.get("/api/v1/targets", headers={"x-who": "acme-prod"}).json()
    assert _tenants(scoped) == [("acme", "prod")]
    assert scoped["data"]["droppedTargets"] == []
    org = client.get("/api/v1/targets", params={"state": "any"}, headers={"x-who": "acme"}).json()
    assert _tenants(org) == [("acme", "dev"), ("acme", "prod")]


def test_collector_health_counts_the_scopes_targets_only() -> None:
    client = _client()
    everything = client.get("/api/v1/collector/health").json()
    assert everything["targets"]["up"] == len(TARGETS) and everything["discoveryErrors"]
    scoped = client.get("/api/v1/collector/health", headers={"x-who": "acme-prod"}).json()
    assert scoped["targets"] == {"up": 1, "down": 0, "unknown": 0}
    assert scoped["discoveryErrors"] == {}
