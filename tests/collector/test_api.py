"""GET /api/v1/targets in Prometheus' shape, served by a FastAPI app over ASGI, with a running manager."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from collector.api import targets_router
from collector.config import CollectorConfig, RelabelConfig, StaticJob
from collector.manager import ScrapeManager
from metrics_store.memory import MemoryStore
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually


async def test_targets_endpoint_shape_and_state_filter() -> None:
    with Exporter() as ex:
        ex.set_body("m 1\n")
        job = StaticJob(
            name="node",
            targets=[ex.address, "127.0.0.1:1"],
            interval_s=0.1,
            relabel_configs=[RelabelConfig(action="drop", source_labels=["__address__"], regex=".*:1")],
        )
        down = StaticJob(
            name="down", targets=[f"127.0.0.1:{ex.port}"], metrics_path="/status500", interval_s=0.1
        )
        mgr = ScrapeManager(
            CollectorConfig(jobs=[job, down]), MemoryStore(), None, registry=CollectorRegistry()
        )
        app = FastAPI()
        app.include_router(targets_router(mgr))
        await mgr.start()
        try:
            await eventually(lambda: {t.health for t in mgr.targets()} == {"up", "down"}, 5, "both scraped")
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api"
            ) as client:
                body = (await client.get("/api/v1/targets")).json()
                active_only = (await client.get("/api/v1/targets", params={"state": "active"})).json()
                dropped_only = (await client.get("/api/v1/targets", params={"state": "dropped"})).json()
                health = await client.get("/api/v1/collector/health")
        finally:
            await mgr.stop()
    assert body["status"] == "success"
    active = {t["scrapePool"]: t for t in body["data"]["activeTargets"]}
    up, failing = active["node"], active["down"]
    assert set(up) == {
        "discoveredLabels", "labels", "scrapePool", "scrapeUrl", "globalUrl", "lastError", "lastScrape",
        "lastScrapeDuration", "health", "scrapeInterval", "scrapeTimeout",
    }  # fmt: skip
    assert up["labels"] == {"instance": ex.address, "job": "node"}
    assert up["discoveredLabels"]["__address__"] == ex.address
    assert up["discoveredLabels"]["__metrics_path__"] == "/metrics"
    assert up["scrapeUrl"] == f"http://{ex.address}/metrics"
    assert (up["health"], up["lastError"], up["scrapeInterval"]) == ("up", "", "100ms")
    assert up["lastScrape"].endswith("Z") and up["lastScrapeDuration"] > 0
    assert failing["health"] == "down" and "HTTP status 500" in failing["lastError"]
    assert body["data"]["droppedTargets"] == [
        {"discoveredLabels": {**up["discoveredLabels"], "__address__": "127.0.0.1:1"}}
    ]
    assert active_only["data"]["droppedTargets"] == [] and len(active_only["data"]["activeTargets"]) == 2
    assert dropped_only["data"]["activeTargets"] == [] and len(dropped_only["data"]["droppedTargets"]) == 1
    assert health.status_code == 200
    assert health.json()["targets"] == {"up": 1, "down": 1, "unknown": 0}
