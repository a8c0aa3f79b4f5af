"""Hostile targets (slowloris, endless body, never answering, garbage, reset, HTTP 500) scraped together
with a healthy one: the healthy target stays on schedule, each hostile one fails with its own reason,
counted once per scrape and logged once per state change."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from collector.config import CollectorConfig, StaticJob
from collector.manager import ScrapeManager
from metrics_store.memory import MemoryStore
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually, select

HOSTILE = {
    "slow": ("/slow", "timeout", "timed out"),
    "huge": ("/huge", "body_too_large", "body size limit exceeded"),
    "never": ("/never", "timeout", "timed out"),
    "garbage": ("/garbage", "parse", "invalid exposition"),
    "reset": ("/reset", "connection", ""),
    "status": ("/status500", "http_status", "HTTP status 500"),
}


async def test_hostile_targets_do_not_delay_a_healthy_one(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="collector.scrape")
    with Exporter() as healthy, Exporter() as hostile:
        healthy.set_body("ok_metric 1\n" + "".join(f'load{{i="{i}"}} {i}\n' for i in range(2000)))
        jobs = [StaticJob(name="healthy", targets=[healthy.address], interval_s=0.2, timeout_s=0.2)]
        jobs += [
            StaticJob(
                name=name,
                targets=[hostile.address],
                metrics_path=path,
                interval_s=0.5,
                timeout_s=0.4,
                max_body_bytes=1_000_000,
            )
            for name, (path, _, _) in HOSTILE.items()
        ]
        store = MemoryStore()
        registry = CollectorRegistry()
        mgr = ScrapeManager(CollectorConfig(jobs=jobs), store, None, registry=registry)
        await mgr.start()
        try:

            def hostile_failed_twice() -> bool:
                return all(
                    (registry.get_sample_value("paramedic_scrape_errors_total", {"job": n, "reason": r}) or 0)
                    >= 2
                    for n, (_, r, _) in HOSTILE.items()
                )

            await eventually(hostile_failed_twice, 10, "every hostile target to fail twice")
            await eventually(
                lambda: len(select(store, "up", job="healthy")[0].values) >= 10, 10, "10 healthy scrapes"
            )
            statuses = {t.job: t for t in mgr.targets()}
        finally:
            await mgr.stop()

    ts = select(store, "up", job="healthy")[0].timestamps_ms
    gaps = np.diff(ts)
    # 200 ms interval: on schedule despite the others. A hostile target that delayed the healthy one would
    # show up in every gap (the hostile timeouts are 400 ms); allow one scheduling hiccup of a loaded machine.
    on_time = ((gaps >= 120) & (gaps <= 300)).sum()
    assert on_time >= len(gaps) - 1 and gaps.min() >= 120 and gaps.max() <= 450, gaps
    assert set(select(store, "up", job="healthy")[0].values) == {1.0}
    for name, (_, _, text) in HOSTILE.items():
        assert statuses[name].health == "down"
        assert text in statuses[name].last_error, (name, statuses[name].last_error)
        assert set(select(store, "up", job=name)[0].values) == {0.0}
    warnings = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(warnings) == len(HOSTILE), warnings  # once per state change, not once per scrape
    assert all(hostile.address in w for w in warnings)
