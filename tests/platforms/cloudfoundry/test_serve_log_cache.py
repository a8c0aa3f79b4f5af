"""``paramedic serve`` with a Cloud Foundry platform and ``log_cache``: the server polls Log Cache (the
loopback fake serving recorded-shape responses) and the samples are queryable through its own PromQL API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from paramedic.assembly import Paramedic
from paramedic.config import ParamedicConfig
from tests.platforms.cloudfoundry.fake_cf import CLIENT_ID, CLIENT_SECRET, FakeCF
from tests.support.servers import wait_until


def test_serve_polls_log_cache_into_the_store(fake: FakeCF, tmp_path: Path) -> None:
    config = ParamedicConfig.model_validate(
        {
            "server": {"auth": {"anonymous_read": True}},
            "metrics_store": {"type": "embedded", "path": str(tmp_path / "metrics")},
            "platform": {
                "type": "cloudfoundry",
                "api_url": fake.base_url,
                "uaa_url": fake.base_url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "timeout_s": 2.0,
                "log_cache": {"url": fake.base_url, "interval_s": 0.2},
            },
        }
    )
    server = Paramedic(config, base_dir=tmp_path, registry=CollectorRegistry())
    assert [type(s).__name__ for s in server.sources] == ["ScrapeManager", "PushIngest", "LogCacheSource"]
    with TestClient(server.app, base_url="http://127.0.0.1") as client:
        found: dict[str, Any] = {}

        def cpu_seen() -> bool:
            body = client.get("/api/v1/query", params={"query": "cpu", "time": "1712000000.5"}).json()
            found["result"] = body["data"]["result"]
            return len(found["result"]) == 2

        wait_until(cpu_seen, 20, "Log Cache cpu samples in the store")
    by_instance = {r["metric"]["instance_id"]: float(r["value"][1]) for r in found["result"]}
    assert by_instance == {"0": 2.25, "1": 0.5}
    assert all(r["metric"]["app"] == "my_app" for r in found["result"])
