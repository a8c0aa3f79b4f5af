"""PatternStats: counts per (app, pattern) into a metrics store Appender, the listing, bounds, metrics."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.patterns import (
    PATTERN_COUNT_METRIC,
    PatternMetrics,
    PatternStats,
    TemplateMiner,
)
from metrics_store.base import StoreError
from metrics_store.memory import MemoryStore
from metrics_store.model import METRIC_NAME, Labels, Matcher, MatchOp, is_stale_nan

S = 1_000_000_000  # ns per second


class Clock:
    def __init__(self) -> None:
        self.now_ns = 1_700_000_000 * S

    def __call__(self) -> int:
        return self.now_ns


def _counts(store: MemoryStore) -> dict[tuple[str, str], list[float]]:
    data = store.select([Matcher(METRIC_NAME, MatchOp.EQ, PATTERN_COUNT_METRIC)], 0, 2**62)
    out = {}
    for series in data:
        labels = dict(series.labels)
        out[(labels.get("app", ""), labels["pattern_id"])] = [float(v) for v in series.values]
    return out


def _feed(stats: PatternStats, miner: TemplateMiner, app: str, message: str) -> str:
    pid, template = miner.mine(message)
    stats.observe(app, pid, template, message)
    return pid


def test_counts_become_counter_series() -> None:
    store, clock, miner = MemoryStore(), Clock(), TemplateMiner()
    stats = PatternStats(store, clock_ns=clock)
    p1 = _feed(stats, miner, "shop", "GET /cart 200 in 12ms")
    _feed(stats, miner, "shop", "GET /cart 200 in 15ms")
    p2 = _feed(stats, miner, "shop", "payment declined for order 17")
    _feed(stats, miner, "", "payment declined for order 18")
    assert stats.flush() == 3
    clock.now_ns += 15 * S
    _feed(stats, miner, "shop", "GET /cart 200 in 9ms")
    stats.flush()
    assert _counts(store) == {("shop", p1): [2.0, 3.0], ("shop", p2): [1.0, 1.0], ("", p2): [1.0, 1.0]}
    series = store.select([Matcher("pattern_id", MatchOp.EQ, p1)], 0, 2**62)[0]
    assert list(series.timestamps_ms) == [1_700_000_000_000, 1_700_000_015_000]


def test_replicas_sharing_a_store_keep_apart_counters() -> None:
    store, clock, miner = MemoryStore(), Clock(), TemplateMiner()
    r1 = PatternStats(store, clock_ns=clock, replica="r1")
    r2 = PatternStats(store, clock_ns=clock, replica="r2")
    pid = _feed(r1, miner, "shop", "GET /cart 200 in 12ms")
    _feed(r1, miner, "shop", "GET /cart 200 in 13ms")
    assert _feed(r2, miner, "shop", "GET /cart 200 in 14ms") == pid
    r1.flush()
    r2.flush()
    data = store.select([Matcher(METRIC_NAME, MatchOp.EQ, PATTERN_COUNT_METRIC)], 0, 2**62)
    by_replica = {dict(s.labels)["replica"]: [float(v) for v in s.values] for s in data}
    assert by_replica == {"r1": [2.0], "r2": [1.0]}


def test_list_patterns_sorted_filtered_limited() -> None:
    clock, miner = Clock(), TemplateMiner()
    stats = PatternStats(None, clock_ns=clock)
    first = _feed(stats, miner, "shop", "cache miss for key user:1")
    clock.now_ns += S
    for i in range(3):
        _feed(stats, miner, "shop", f"worker {i} started")
    _feed(stats, miner, "billing", "worker 9 started")
    listed = stats.list_patterns("shop", 10)
    assert [(p.count, p.app) for p in listed] == [(3, "shop"), (1, "shop")]
    top = listed[0]
    assert top.template == "worker <*> started" and top.sample == "worker 0 started"
    assert top.first_seen_ns == clock.now_ns and top.last_seen_ns == clock.now_ns
    assert listed[1].pattern_id == first and listed[1].first_seen_ns == clock.now_ns - S
    assert len(stats.list_patterns(None, 10)) == 3
    assert len(stats.list_patterns(None, 1)) == 1
    assert stats.list_patterns("nope", 10) == []
    assert stats.flush() == 0  # no appender: listing only


def test_template_refines_and_sample_is_truncated() -> None:
    stats = PatternStats(None)
    stats.observe("a", "p1", "job x done", "job x done " + "y" * 2000)
    stats.observe("a", "p1", "job <*> done", "job z done")
    (info,) = stats.list_patterns("a", 5)
    assert info.template == "job <*> done" and len(info.sample) == 512 and info.count == 2


def test_bounded_entries_mark_evicted_series_stale() -> None:
    store, registry = MemoryStore(), CollectorRegistry()
    stats = PatternStats(store, max_entries=2, metrics=PatternMetrics(registry))
    stats.observe("a", "p1", "t1", "m1")
    stats.observe("a", "p2", "t2", "m2")
    stats.flush(now_ns=10 * S)
    stats.observe("a", "p3", "t3", "m3")  # evicts p1 (least recently seen)
    assert {p.pattern_id for p in stats.list_patterns(None, 10)} == {"p2", "p3"}
    stats.flush(now_ns=20 * S)
    p1 = store.select([Matcher("pattern_id", MatchOp.EQ, "p1")], 0, 2**62)[0]
    assert p1.values[0] == 1.0 and is_stale_nan(float(p1.values[1]))
    assert registry.get_sample_value("paramedic_log_pattern_stats_evicted_total") == 1.0
    assert registry.get_sample_value("paramedic_log_pattern_stats_flushes_total") == 2.0


class FailingAppender:
    def series_ref(self, labels: Labels) -> int:
        return 1

    def append(self, refs: Sequence[int], timestamps_ms: Sequence[int], values: Sequence[float]) -> None:
        raise StoreError("disk full")


def test_store_errors_are_counted_and_raised() -> None:
    registry = CollectorRegistry()
    stats = PatternStats(FailingAppender(), metrics=PatternMetrics(registry))
    stats.observe("a", "p1", "t", "m")
    with pytest.raises(StoreError):
        stats.flush()
    assert registry.get_sample_value("paramedic_log_pattern_stats_errors_total") == 1.0


def test_background_flush_writes_on_stop() -> None:
    store = MemoryStore()
    stats = PatternStats(store)
    stats.start(interval_s=3600)
    stats.observe("a", "p1", "t", "m")
    stats.stop()
    stats.stop()  # idempotent
    assert _counts(store) == {("a", "p1"): [1.0]}


def test_miner_metrics() -> None:
    registry = CollectorRegistry()
    metrics = PatternMetrics(registry)
    miner = TemplateMiner(on_new=metrics.pattern_created, on_evict=metrics.pattern_evicted)
    miner.mine("a b c")
    miner.mine("x y z")
    assert registry.get_sample_value("paramedic_log_patterns_created_total") == 2.0
    assert registry.get_sample_value("paramedic_log_patterns") == 2.0
