"""Status and compatibility endpoints: buildinfo, runtimeinfo, config, flags, format_query, exemplars."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from metrics_store.api import ServerInfo, status_router

STARTED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def client() -> TestClient:
    info = ServerInfo(
        version="0.1.0",
        started_at=STARTED,
        config_yaml=lambda: "server: {}\n",
        flags={"query.timeout": "2m"},
        storage_retention="15d",
        last_reload=lambda: (False, STARTED),
    )
    app = FastAPI()
    app.include_router(status_router(info))
    return TestClient(app)


def test_buildinfo_is_prometheus_shaped_and_honest(client: TestClient) -> None:
    data = client.get("/api/v1/status/buildinfo").json()["data"]
    assert {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"} <= set(data)
    assert data["version"] == "2.42.0"
    assert data["application"] == "paramedic" and data["paramedicVersion"] == "0.1.0"
    assert "features" not in data  # Grafana would take the server for Mimir


def test_runtimeinfo_config_flags(client: TestClient) -> None:
    rt = client.get("/api/v1/status/runtimeinfo").json()["data"]
    assert rt["startTime"] == "2024-01-02T03:04:05Z"
    assert rt["reloadConfigSuccess"] is False and rt["storageRetention"] == "15d"
    assert client.get("/api/v1/status/config").json() == {
        "status": "success",
        "data": {"yaml": "server: {}\n"},
    }
    assert client.get("/api/v1/status/flags").json()["data"] == {"query.timeout": "2m"}


def test_format_query_get_post_and_error(client: TestClient) -> None:
    q = {"query": "sum(rate(x[5m]))by(job)"}
    for resp in (client.get("/api/v1/format_query", params=q), client.post("/api/v1/format_query", data=q)):
        assert resp.json() == {"status": "success", "data": "sum by (job) (rate(x[5m]))"}
    bad = client.get("/api/v1/format_query", params={"query": "sum("})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith('invalid parameter "query": ')


def test_exemplars_rules_alerts(client: TestClient) -> None:
    q = {"query": "up", "start": "10", "end": "20"}
    assert client.post("/api/v1/query_exemplars", data=q).json() == {"status": "success", "data": []}
    bad = client.get("/api/v1/query_exemplars", params={"query": "up", "start": "20", "end": "10"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
    assert client.get("/api/v1/rules").json() == {"status": "success", "data": {"groups": []}}
    assert client.get("/api/v1/alerts").json() == {"status": "success", "data": {"alerts": []}}
