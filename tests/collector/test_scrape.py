"""The scrape loop against real HTTP exporters: samples, report series, staleness, honor_labels, limits,
reload. MemoryStore is the appender; intervals are 0.1-0.2 s and every wait polls with a deadline."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from collector.config import CollectorConfig, RelabelConfig, StaticJob
from collector.manager import ScrapeManager
from metrics_store.memory import MemoryStore
from metrics_store.model import is_stale_nan
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually, is_stale, last_value, select, series_labels_of

BODY = """# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200"} 5
http_requests_total{code="500"} 1
# TYPE mem_bytes gauge
mem_bytes 1024
"""


def _config(address: str, **job: object) -> CollectorConfig:
    return CollectorConfig(
        interval_s=0.1,
        timeout_s=0.1,
        jobs=[
            StaticJob.model_validate({"name": "node", "targets": [address], "labels": {"cell": "c1"}, **job})
        ],
    )


@pytest.fixture
async def exporter() -> AsyncIterator[Exporter]:
    with Exporter() as ex:
        ex.set_body(BODY)
        yield ex


async def _started(cfg: CollectorConfig, store: MemoryStore) -> ScrapeManager:
    mgr = ScrapeManager(cfg, store, None, registry=CollectorRegistry())
    await mgr.start()
    return mgr


APPENDED = "paramedic_scrape_samples_appended_total"


async def test_samples_carry_target_labels_and_report_series(exporter: Exporter) -> None:
    store = MemoryStore()
    registry = CollectorRegistry()
    mgr = ScrapeManager(_config(exporter.address), store, None, registry=registry)
    await mgr.start()
    try:
        # The samples land from the ingest thread before the loop records the scrape's metrics: wait for both.
        await eventually(
            lambda: (
                len(select(store, "up")) == 1
                and len(select(store, "up")[0].values) >= 2
                and (registry.get_sample_value(APPENDED, {"job": "node"}) or 0) >= 6
            ),
            5,
            "2 scrapes recorded",
        )
    finally:
        await mgr.stop()
    target = {"cell": "c1", "instance": exporter.address, "job": "node"}
    assert sorted(series_labels_of(store, "http_requests_total")) == [
        tuple(sorted({**target, "__name__": "http_requests_total", "code": code}.items()))
        for code in ("200", "500")
    ]
    assert last_value(store, "mem_bytes", **target) == 1024
    assert last_value(store, "up", **target) == 1
    assert last_value(store, "scrape_samples_scraped", **target) == 3
    assert last_value(store, "scrape_samples_post_metric_relabeling", **target) == 3
    added = select(store, "scrape_series_added", **target)[0].values
    assert added[0] == 3 and added[-1] == 0  # the second scrape hits the series cache
    duration = last_value(store, "scrape_duration_seconds", **target)
    assert duration is not None and 0 < duration < 0.1
    _, headers = exporter.requests[0]
    # Prometheus 3's: OpenMetrics first, names asked for as they are (metric_name_escaping_scheme)
    assert headers["Accept"].startswith("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;")
    assert "text/plain;version=0.0.4" in headers["Accept"]
    assert headers["Accept-Encoding"] == "gzip"
    assert registry.get_sample_value("paramedic_scrape_scrapes_total", {"job": "node", "result": "success"})
    assert registry.get_sample_value("paramedic_scrape_samples_appended_total", {"job": "node"}) >= 6  # type: ignore[operator]


async def test_vanished_series_get_a_staleness_marker(exporter: Exporter) -> None:
    store = MemoryStore()
    mgr = await _started(_config(exporter.address), store)
    try:
        await eventually(lambda: last_value(store, "mem_bytes") == 1024, 5, "first scrape")
        exporter.set_body(BODY.replace("mem_bytes 1024", "mem_bytes_new 1"))
        await eventually(lambda: is_stale(store, "mem_bytes"), 5, "mem_bytes stale marker")
        n_stale_before = len(select(store, "mem_bytes")[0].values)
        await eventually(lambda: len(select(store, "mem_bytes_new")[0].values) >= 3, 5, "more scrapes")
    finally:
        await mgr.stop()
    values = select(store, "mem_bytes")[0].values
    assert len(values) == n_stale_before  # exactly one marker, nothing after it
    assert sum(is_stale_nan(float(v)) for v in values) == 1
    assert not any(is_stale_nan(float(v)) for v in select(store, "http_requests_total", code="200")[0].values)


async def test_target_that_goes_away_reports_up_0_and_stale_series() -> None:
    store = MemoryStore()
    with Exporter() as ex:
        ex.set_body(BODY)
        mgr = await _started(_config(ex.address), store)
        await eventually(lambda: last_value(store, "up") == 1, 5, "up=1")
    try:
        # the samples (``up`` = 0, the stale markers) are appended before the target's status is updated:
        # wait for both, then check each
        await eventually(
            lambda: last_value(store, "up") == 0 and mgr.targets()[0].health == "down",
            5,
            "up=0 and health down after the exporter stopped",
        )
        assert is_stale(store, "mem_bytes")
        assert is_stale(store, "http_requests_total")
        assert not is_stale(store, "up")  # the target still exists: up is 0, not stale
        [status] = mgr.targets()
        assert status.health == "down"
        assert "connect" in status.last_error.lower()
    finally:
        await mgr.stop()


async def test_honor_labels_false_renames_clashing_exposed_labels(exporter: Exporter) -> None:
    exporter.set_body('m{job="exposed",instance="i",exported_job="x",other="o"} 1\n')
    store = MemoryStore()
    mgr = await _started(_config(exporter.address), store)
    try:
        await eventually(lambda: bool(select(store, "m")), 5, "m")
    finally:
        await mgr.stop()
    [labels] = series_labels_of(store, "m")
    assert dict(labels) == {
        "__name__": "m",
        "job": "node",
        "instance": exporter.address,
        "cell": "c1",
        "exported_instance": "i",
        "exported_exported_job": "exposed",
        "exported_job": "x",
        "other": "o",
    }


async def test_honor_labels_true_keeps_exposed_labels(exporter: Exporter) -> None:
    exporter.set_body('m{job="exposed"} 1\n')
    store = MemoryStore()
    mgr = await _started(_config(exporter.address, honor_labels=True), store)
    try:
        await eventually(lambda: bool(select(store, "m")), 5, "m")
    finally:
        await mgr.stop()
    [labels] = series_labels_of(store, "m")
    assert dict(labels)["job"] == "exposed"
    assert dict(labels)["cell"] == "c1"


async def test_metric_relabeling_drops_and_rewrites(exporter: Exporter) -> None:
    rules = [
        {"action": "drop", "source_labels": ["__name__"], "regex": "mem_.*"},
        {"source_labels": ["code"], "regex": "5..", "target_label": "error", "replacement": "yes"},
    ]
    store = MemoryStore()
    mgr = await _started(_config(exporter.address, metric_relabel_configs=rules), store)
    try:
        await eventually(
            lambda: last_value(store, "scrape_samples_post_metric_relabeling") == 2, 5, "relabeled"
        )
    finally:
        await mgr.stop()
    assert select(store, "mem_bytes") == []
    assert last_value(store, "scrape_samples_scraped") == 3
    assert last_value(store, "http_requests_total", code="500", error="yes") == 1


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"sample_limit": 2}, "sample_limit exceeded"),
        ({"label_limit": 4}, "label_limit exceeded"),
        ({"label_name_length_limit": 4}, "label_name_length_limit exceeded"),
        ({"label_value_length_limit": 3}, "label_value_length_limit exceeded"),
    ],
)
async def test_a_scrape_over_a_limit_fails_as_a_whole(
    exporter: Exporter, limits: dict[str, int], message: str
) -> None:
    store = MemoryStore()
    mgr = await _started(_config(exporter.address, **limits), store)
    try:
        await eventually(
            lambda: bool(mgr.targets()) and mgr.targets()[0].health == "down", 5, "failed scrape"
        )
        [status] = mgr.targets()
    finally:
        await mgr.stop()
    assert message in status.last_error
    assert last_value(store, "up") == 0
    assert select(store, "http_requests_total") == []


async def test_reload_keeps_loops_and_rebuilds_the_series_cache(exporter: Exporter) -> None:
    store = MemoryStore()
    cfg = _config(exporter.address)
    mgr = await _started(cfg, store)
    try:
        await eventually(lambda: [t.health for t in mgr.targets()] == ["up"], 5, "first scrape")
        new_job = cfg.jobs[0].model_copy(
            update={"metric_relabel_configs": [RelabelConfig(target_label="env", replacement="prod")]}
        )
        mgr.apply_config(cfg.model_copy(update={"jobs": [new_job]}))
        assert [t.health for t in mgr.targets()] == ["up"]  # same loop, not a fresh "unknown" one
        await eventually(lambda: last_value(store, "mem_bytes", env="prod") == 1024, 5, "relabeled series")
        await eventually(lambda: is_stale(store, "mem_bytes", env=""), 5, "the old series' marker")
        mgr.apply_config(cfg.model_copy(update={"jobs": []}))
        await eventually(lambda: is_stale(store, "up"), 5, "up stale after the job was removed")
        assert mgr.targets() == []
    finally:
        await mgr.stop()
    assert not math.isnan(select(store, "mem_bytes", env="prod")[0].values[0])
