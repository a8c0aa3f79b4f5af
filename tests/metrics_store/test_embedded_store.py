"""Embedded store behaviour beyond the contract: retention and downsampling driven by an injected clock,
concurrent appends and queries with background checkpoints, errors and self-instrumentation."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.errors import InvalidSampleError, StoreClosedError, UnknownSeriesError
from metrics_store.factory import open_store
from metrics_store.model import STALE_NAN, STALE_NAN_BITS, Matcher, MatchOp, labels_from, labels_get

HOUR_MS = 3_600_000


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_retention_and_downsampling(tmp_path: Path) -> None:
    now_s = 1_700_006_400  # a multiple of 300
    clock = Clock(now_s)
    cfg = EmbeddedStoreConfig(retention_s=6 * 3600, downsample_after_s=3600, downsample_resolution_s=300)
    registry = CollectorRegistry()
    store = EmbeddedStore(tmp_path, cfg, registry=registry, clock=clock, background=False)
    try:
        ref = store.series_ref(labels_from({"__name__": "g", "k": "1"}))
        now_ms = now_s * 1000
        ts = np.arange(now_ms - 3 * HOUR_MS, now_ms, 15_000, dtype=np.int64)  # 3 h every 15 s
        vals = np.arange(len(ts), dtype=np.float64)
        store.append([ref] * len(ts), ts.tolist(), vals.tolist())
        store.checkpoint()

        deleted, reduced = store.run_maintenance()
        assert deleted == 0
        cutoff = now_ms - HOUR_MS
        old = ts < cutoff
        buckets = ts[old] // 300_000
        last_in_bucket = np.r_[buckets[1:] != buckets[:-1], True]
        assert reduced == int(old.sum() - last_in_bucket.sum())

        (got,) = store.select([Matcher("__name__", MatchOp.EQ, "g")], 0, now_ms)
        expect_ts = np.concatenate([ts[old][last_in_bucket], ts[~old]])
        expect_vals = np.concatenate([vals[old][last_in_bucket], vals[~old]])
        assert got.timestamps_ms.tolist() == expect_ts.tolist()  # last sample per 5 min, original ts
        assert got.values.tolist() == expect_vals.tolist()
        assert store.run_maintenance() == (0, 0)  # idempotent below the watermark

        clock.t = now_s + 4 * 3600  # the first hour is beyond the 6 h retention; all the rest is > 1 h old
        deleted, _ = store.run_maintenance()
        (got,) = store.select([Matcher("__name__", MatchOp.EQ, "g")], 0, now_ms)
        retained = expect_ts >= (clock.t - 6 * 3600) * 1000
        assert deleted == int((~retained).sum())
        all_buckets = ts // 300_000
        last_all = np.r_[all_buckets[1:] != all_buckets[:-1], True] & (ts >= (clock.t - 6 * 3600) * 1000)
        assert got.timestamps_ms.tolist() == ts[last_all].tolist()
        assert got.values.tolist() == vals[last_all].tolist()
        assert registry.get_sample_value(
            "paramedic_store_samples_removed_total", {"backend": "embedded", "task": "retention"}
        ) == float(deleted)
        assert (
            registry.get_sample_value(
                "paramedic_store_maintenance_runs_total", {"backend": "embedded", "task": "downsample"}
            )
            == 3.0
        )
    finally:
        store.close()


def test_concurrent_appends_and_queries_see_every_acked_sample(tmp_path: Path) -> None:
    cfg = EmbeddedStoreConfig(checkpoint_samples=2_000, checkpoint_interval_s=0.05, downsample_after_s=None)
    registry = CollectorRegistry()
    store = EmbeddedStore(tmp_path, cfg, registry=registry)
    writers, series_per_writer, batches = 4, 20, 150
    acked = [0] * writers  # batches acknowledged per writer
    errors: list[BaseException] = []
    halfway = threading.Barrier(writers + 1)
    folded: list[bool] = []

    def write(w: int) -> None:
        try:
            refs = [
                store.series_ref(labels_from({"__name__": "c", "w": str(w), "i": str(i)}))
                for i in range(series_per_writer)
            ]
            for k in range(batches):
                if k == batches // 2:
                    halfway.wait(30)
                store.append(refs, [k * 1000] * len(refs), [float(k)] * len(refs))
                acked[w] = k + 1
        except BaseException as e:  # re-raised in the main thread
            errors.append(e)

    def read(w: int) -> None:
        try:
            while acked[w] < batches:
                floor = acked[w]
                res = store.select([Matcher("w", MatchOp.EQ, str(w))], 0, 10**9)
                if floor:
                    assert len(res) == series_per_writer
                for s in res:
                    n = len(s.timestamps_ms)
                    assert n >= floor, (n, floor)
                    assert np.all(np.diff(s.timestamps_ms) > 0)
                    assert s.values.tolist() == (s.timestamps_ms / 1000).tolist()
        except BaseException as e:  # re-raised in the main thread
            errors.append(e)

    def fold() -> None:  # explicit checkpoints from yet another thread, on top of the background ones
        try:
            halfway.wait(30)  # guarantees a checkpoint with data while the writers are still writing
            folded.append(store.checkpoint())
            while min(acked) < batches:
                folded.append(store.checkpoint())
        except BaseException as e:  # re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    threads += [threading.Thread(target=read, args=(w,)) for w in (0, 3)]
    threads.append(threading.Thread(target=fold))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        if errors:
            raise errors[0]
        res = store.select([Matcher("__name__", MatchOp.EQ, "c")], 0, 10**9)
        assert len(res) == writers * series_per_writer
        assert all(s.timestamps_ms.tolist() == [k * 1000 for k in range(batches)] for s in res)
        assert sorted({labels_get(s.labels, "w") for s in res}) == ["0", "1", "2", "3"]
        total = writers * series_per_writer * batches
        assert (
            registry.get_sample_value("paramedic_store_samples_appended_total", {"backend": "embedded"})
            == total
        )
        assert (
            registry.get_sample_value("paramedic_store_series_created_total", {"backend": "embedded"}) == 80
        )
        # explicit checkpoints ran beside the writers; whether one found data depends on the background
        # checkpoint (every 50 ms, or at 2,000 samples), which may fold the head first
        assert folded
    finally:
        store.close()


def test_errors(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, registry=CollectorRegistry(), background=False)
    ref = store.series_ref(labels_from({"__name__": "x"}))
    with pytest.raises(UnknownSeriesError, match="unknown series ref 5"):
        store.append([ref, 5], [1, 2], [1.0, 2.0])
    with pytest.raises(UnknownSeriesError):
        store.append([-1], [1], [1.0])
    with pytest.raises(InvalidSampleError, match="lengths differ"):
        store.append([ref], [1, 2], [1.0])
    with pytest.raises(InvalidSampleError) as exc:
        store.append([ref], ["not a number"], [1.0])  # type: ignore[list-item]
    assert isinstance(exc.value.__cause__, ValueError)
    store.append([], [], [])
    store.close()
    with pytest.raises(StoreClosedError):
        store.append([ref], [1], [1.0])
    with pytest.raises(StoreClosedError):
        store.select([], 0, 1)


def test_config_and_factory(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="downsample_after_s must be smaller than retention_s"):
        EmbeddedStoreConfig(retention_s=3600, downsample_after_s=7200)
    store = open_store(EmbeddedStoreConfig(path="rel/metrics"), tmp_path, registry=CollectorRegistry())
    try:
        ref = store.series_ref(labels_from({"__name__": "f"}))
        store.append([ref], [1], [2.0])
        assert [s.values.tolist() for s in store.select([Matcher("__name__", MatchOp.EQ, "f")], 0, 1)] == [
            [2.0]
        ]
    finally:
        store.close()
    assert (tmp_path / "rel" / "metrics" / "metrics.duckdb").exists()


@pytest.mark.parametrize(
    "matcher",
    [
        Matcher("k", MatchOp.RE, "1[0-9]"),  # contiguous refs: the ref range alone filters
        Matcher("k", MatchOp.RE, "[0-9]*[05]"),  # 8 of 40, spread: selective
        Matcher("k", MatchOp.RE, "[0-9]*[1-9]"),  # 36 of 40 with gaps: a full scan of the ref range
    ],
    ids=["contiguous", "selective-with-gaps", "most-with-gaps"],
)
def test_select_by_ref_range_returns_exactly_the_matching_series(tmp_path: Path, matcher: Matcher) -> None:
    """Selects narrow the database read to the matching refs' range; series outside the match but inside
    the range (or in the head) must not leak in, nor matching ones go missing."""
    store = EmbeddedStore(tmp_path, EmbeddedStoreConfig(), registry=CollectorRegistry(), background=False)
    try:
        refs = [store.series_ref(labels_from({"__name__": "g", "k": str(i)})) for i in range(40)]
        ts = np.arange(10) * 15_000 + 1_700_000_000_000
        for k, r in enumerate(refs):
            store.append([r] * 10, ts.tolist(), (ts / 1000 + k).tolist())
        store.checkpoint()
        for k, r in enumerate(refs):  # and a newer sample in the head
            store.append([r], [int(ts[-1]) + 15_000], [float(k)])
        got = store.select([Matcher("__name__", MatchOp.EQ, "g"), matcher], 0, 2**62)
        want = sorted(k for k in range(40) if matcher.matches(str(k)))
        assert sorted(int(labels_get(sd.labels, "k") or -1) for sd in got) == want
        for sd in got:
            k = int(labels_get(sd.labels, "k") or -1)
            assert sd.timestamps_ms.tolist() == [*ts.tolist(), int(ts[-1]) + 15_000]
            assert sd.values.tolist() == [*(ts / 1000 + k).tolist(), float(k)]
    finally:
        store.close()


@pytest.mark.parametrize("n_series", [3, 100], ids=["few-refs", "many-refs"])
def test_nan_payloads_survive_a_checkpointed_select(tmp_path: Path, n_series: int) -> None:
    """A select of a few refs reads the NaN-bits column at once, a larger one counts NaNs first: both give
    back the staleness marker and other NaN payloads bit for bit, and plain values untouched."""
    store = EmbeddedStore(tmp_path, EmbeddedStoreConfig(), registry=CollectorRegistry(), background=False)
    try:
        refs = [store.series_ref(labels_from({"__name__": "n", "k": str(i)})) for i in range(n_series)]
        ts = [1_700_000_000_000 + 15_000 * j for j in range(3)]
        for k, r in enumerate(refs):
            last = STALE_NAN if k == n_series - 1 else float(k)
            store.append([r] * 3, ts, [float(k), math.nan if k == 0 else float(k), last])
        store.checkpoint()
        got = {
            int(labels_get(sd.labels, "k") or -1): sd
            for sd in store.select([Matcher("__name__", MatchOp.EQ, "n")], 0, 2**62)
        }
        assert sorted(got) == list(range(n_series))
        bits = got[n_series - 1].values.view(np.uint64).tolist()
        assert bits[2] == STALE_NAN_BITS
        assert math.isnan(got[0].values[1]) and got[0].values.view(np.uint64)[1] != STALE_NAN_BITS
        assert got[1].values.tolist() == [1.0, 1.0, 1.0]
    finally:
        store.close()


def test_the_embedded_store_keeps_arrays_and_lists_alike(tmp_path: Path) -> None:
    """``append`` takes numpy columns (the steady-state scrape path) and stores them exactly as lists."""
    stores = [EmbeddedStore(tmp_path / n, registry=CollectorRegistry(), background=False) for n in ("l", "a")]
    values = [1.5, STALE_NAN, -0.0, 1e300]
    for store in stores:
        for i in range(4):
            store.series_ref((("__name__", f"m{i}"),))
    stores[0].append([0, 1, 2, 3], [10, 10, 10, 10], values)
    stores[1].append(np.arange(4, dtype=np.int64), np.full(4, 10, np.int64), np.array(values, np.float64))
    got = []
    for store in stores:
        rows = store.select([Matcher("__name__", MatchOp.RE, "m.*")], 0, 100)
        got.append(
            [(s.labels, list(s.timestamps_ms), np.asarray(s.values).view(np.uint64).tolist()) for s in rows]
        )
        store.close()
    assert got[0] == got[1] and len(got[0]) == 4
