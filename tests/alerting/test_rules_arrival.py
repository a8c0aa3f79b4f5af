"""Rules evaluate as samples arrive: the collector's commit hook wakes the rule manager, so a target that
goes down is alerted on about one scrape interval later, not one (long) evaluation interval later."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from alerting.model import Alert
from alerting.rules import RuleManager, RuleOptions
from collector.config import CollectorConfig, StaticJob
from collector.manager import ScrapeManager
from metrics_store.memory import MemoryStore
from metrics_store.promql import Engine
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually, last_value

SCRAPE_INTERVAL_S = 1.0
RULES = """
groups:
  - name: targets
    rules:
      - alert: TargetDown
        expr: up == 0
        for: 0s
  - name: slow
    interval: 30s
    rules:
      - alert: TargetDownSlow
        expr: up == 0
"""


class Sink:
    def __init__(self) -> None:
        self.got: list[tuple[float, Alert]] = []

    def put(self, alerts: Sequence[Alert]) -> None:
        now = time.monotonic()
        self.got.extend((now, a) for a in alerts)

    def first(self, name: str) -> float | None:
        return next((t for t, a in self.got if a.labels["alertname"] == name), None)


async def test_up_0_fires_within_two_scrape_intervals(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    store, sink, reg = MemoryStore(), Sink(), CollectorRegistry()
    mgr = RuleManager(
        [str(rules)],
        Engine(store, registry=reg),
        store,
        sink,
        registry=reg,
        options=RuleOptions(interval_s=30),
    )
    with Exporter() as ex:
        ex.set_body("# TYPE mem_bytes gauge\nmem_bytes 1\n")
        cfg = CollectorConfig(
            interval_s=SCRAPE_INTERVAL_S,
            timeout_s=0.5,
            jobs=[StaticJob.model_validate({"name": "node", "targets": [ex.address]})],
        )
        scraper = ScrapeManager(cfg, store, None, registry=CollectorRegistry(), on_commit=mgr.notify)
        await mgr.start()
        await scraper.start()
        try:
            await eventually(lambda: last_value(store, "up") == 1, 5, "up=1")
        except BaseException:
            await scraper.stop()
            await mgr.stop()
            raise
    down_at = time.monotonic()  # the exporter is stopped: the next scrape fails with up=0
    try:
        await eventually(lambda: sink.first("TargetDown") is not None, 10, "TargetDown sent")
        fired = sink.first("TargetDown")
        assert fired is not None
        latency = fired - down_at
        print(f"detection latency {latency:.2f}s with a {SCRAPE_INTERVAL_S:.0f}s scrape interval")
        assert latency < 2 * SCRAPE_INTERVAL_S + 0.5, latency
    finally:
        await scraper.stop()
        await mgr.stop()


def test_arrival_evaluation_is_debounced_per_group(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    store, reg = MemoryStore(), CollectorRegistry()
    now = [990.0]  # on a 30 s slot
    mgr = RuleManager(
        [str(rules)],
        Engine(store, registry=reg),
        store,
        None,
        lambda: now[0],
        reg,
        options=RuleOptions(interval_s=30),
    )
    assert mgr.eval_due() == 2  # both groups at their first slot
    assert mgr.eval_arrived() == 0  # within the minimum interval of the tick
    now[0] += 1.0
    assert mgr.arrival_wait_s() == 0
    assert mgr.eval_arrived() == 1  # only the group without its own interval
    assert mgr.arrival_wait_s() == 1.0
    now[0] += 0.5
    assert mgr.eval_arrived() == 0
    now[0] += 28.5  # the 30 s slot: both groups again
    assert mgr.eval_due() == 2
