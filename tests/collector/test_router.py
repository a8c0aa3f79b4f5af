"""Router targets get an ``app`` label through the presets: CF gorouter's recorded /metrics sample served over
HTTP, and a real HAProxy 2.6 with its built-in Prometheus exporter and a backend named after an app."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from collector.config import CollectorConfig, StaticJob
from collector.manager import ScrapeManager
from collector.presets import router_relabel_rules
from metrics_store.memory import MemoryStore
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually, select, series_labels_of
from tests.support.servers import free_port, require_binary, running

GOROUTER_SAMPLE = Path(__file__).parent / "fixtures" / "gorouter_prometheus_metrics_sample.txt"


async def _scrape_once(address: str, kind: str, store: MemoryStore) -> None:
    job = StaticJob(
        name="router",
        targets=[address],
        interval_s=0.1,
        metric_relabel_configs=router_relabel_rules(kind),  # type: ignore[arg-type]
    )
    mgr = ScrapeManager(CollectorConfig(jobs=[job]), store, None, registry=CollectorRegistry())
    await mgr.start()
    try:
        await eventually(
            lambda: bool(select(store, "up")) and select(store, "up")[0].values[-1] == 1, 10, "a scrape"
        )
    finally:
        await mgr.stop()


async def test_gorouter_per_component_series_get_app() -> None:
    text = GOROUTER_SAMPLE.read_text()
    store = MemoryStore()
    with Exporter() as ex:
        ex.set_body(text)
        await _scrape_once(ex.address, "gorouter", store)
    components = {
        line.split('component="')[1].split('"')[0] for line in text.splitlines() if 'component="' in line
    }
    expected_apps = {c for c in components if c}
    for name in ("total_requests", "latency_count", "registry_message"):
        series = [dict(lbl) for lbl in series_labels_of(store, name)]
        assert series, name
        for labels in series:
            if labels.get("component"):
                assert labels["app"] == labels["component"], labels
            else:
                assert "app" not in labels, labels
    apps = {dict(lbl).get("app") for lbl in series_labels_of(store, "latency_bucket")} - {None}
    assert apps == expected_apps
    assert all("app" not in dict(lbl) for lbl in series_labels_of(store, "total_routes"))
    samples = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    assert select(store, "scrape_samples_post_metric_relabeling")[0].values[-1] == samples


@pytest.mark.integration
async def test_haproxy_backend_and_server_series_get_app(tmp_path: Path) -> None:
    haproxy = require_binary("haproxy")
    stats, web = free_port(), free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        f"""defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend stats
  bind 127.0.0.1:{stats}
  http-request use-service prometheus-exporter if {{ path /metrics }}
frontend web
  bind 127.0.0.1:{web}
  default_backend shop
backend shop
  server shop-0 127.0.0.1:{free_port()}
"""
    )
    store = MemoryStore()
    with running(
        "haproxy",
        [haproxy, "-db", "-f", str(cfg)],
        tmp_path / "haproxy.log",
        f"http://127.0.0.1:{stats}/metrics",
    ):
        await _scrape_once(f"127.0.0.1:{stats}", "haproxy", store)
    names = {dict(lbl)["__name__"]: dict(lbl) for s in store.select([], 0, 2**62) for lbl in [s.labels]}
    backend = [n for n in names if n.startswith("haproxy_backend_")]
    server = [n for n in names if n.startswith("haproxy_server_")]
    assert backend and server
    for series in store.select([], 0, 2**62):
        labels = dict(series.labels)
        name = labels["__name__"]
        if name.startswith(("haproxy_backend_", "haproxy_server_")) and labels.get("proxy"):
            assert labels["app"] == labels["proxy"], labels
        elif name.startswith("haproxy_frontend_"):
            assert "app" not in labels, labels
    assert {dict(s.labels).get("app") for s in store.select([], 0, 2**62)} - {None} == {"shop"}
