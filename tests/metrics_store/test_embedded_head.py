"""The embedded store's head keeps a scrape's one timestamp once (issue 18, memory per active series), and
reads, folds and replays exactly as when every sample carried its own copy."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from metrics_store.embedded import EmbeddedStore
from metrics_store.embedded._head import shared_ts
from metrics_store.model import STALE_NAN, Matcher, MatchOp

N_SERIES = 20_000
ALL = [Matcher("__name__", MatchOp.RE, "m.*")]


def _store(path: Path) -> EmbeddedStore:
    store = EmbeddedStore(path, registry=CollectorRegistry(), background=False)
    for i in range(N_SERIES if path.name == "big" else 50):
        store.series_ref((("__name__", f"m{i % 7}"), ("i", str(i))))
    return store


def test_a_scrape_batch_costs_the_head_12_bytes_a_sample(tmp_path: Path) -> None:
    """refs (4 B) and values (8 B) per sample, the shared timestamp once: 20 B a sample before."""
    store = _store(tmp_path / "big")
    try:
        refs = np.arange(N_SERIES, dtype=np.int64)
        values = np.arange(N_SERIES, dtype=np.float64)
        store.append(refs, np.full(N_SERIES, 1_000, np.int64), values)  # warm: the WAL file, the metrics
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for k in range(1, 6):
                store.append(refs, np.full(N_SERIES, 1_000 + 1_000 * k, np.int64), values)
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        per_sample = held / (5 * N_SERIES)
        assert 11.9 < per_sample < 13.0, per_sample
    finally:
        store.close()


def _rows(store: EmbeddedStore) -> dict[str, list[tuple[int, int]]]:
    """Each series (by its ``i`` label) as (timestamp, value bits) pairs, NaN payloads kept."""
    return {
        dict(s.labels)["i"]: list(
            zip(s.timestamps_ms.tolist(), np.asarray(s.values).view(np.uint64).tolist(), strict=True)
        )
        for s in store.select(ALL, 0, 10**6)
    }


def test_reads_folds_and_reopens_return_every_sample_as_written(tmp_path: Path) -> None:
    """Scrape batches (one timestamp), mixed batches and rewrites of a (ref, ts), read from the head, then
    after a fold in the middle, then reopened from DuckDB: every sample as written, the last write winning."""
    rng = np.random.default_rng(7)
    expect: dict[str, dict[int, int]] = {}
    store = _store(tmp_path / "s")
    try:
        for k in range(40):
            refs = rng.permutation(50)[: rng.integers(1, 50)]
            if k % 3 == 2:
                ts = rng.integers(0, 40_000, len(refs)).astype(np.int64)  # several timestamps in one batch
            else:
                ts = np.full(len(refs), 1_000 * (k // 2), np.int64)  # a scrape; every other one rewrites
            values = rng.normal(size=len(refs))
            values[::5] = STALE_NAN
            store.append(refs, ts, values)
            for r, t, b in zip(refs.tolist(), ts.tolist(), values.view(np.uint64).tolist(), strict=True):
                expect.setdefault(str(r), {})[t] = b
            if k == 20:
                assert _rows(store) == {i: sorted(p.items()) for i, p in expect.items()}
                store.checkpoint()
        got = _rows(store)
    finally:
        store.close()
    want = {i: sorted(p.items()) for i, p in expect.items()}
    assert got == want
    reopened = _store(tmp_path / "s")
    try:
        assert _rows(reopened) == want
    finally:
        reopened.close()


def test_shared_ts_is_a_read_only_view_only_when_every_timestamp_is_equal() -> None:
    same = np.full(5, 7, np.int64)
    view = shared_ts(same)
    assert view.tolist() == same.tolist() and view.strides == (0,) and not view.flags.writeable
    assert not np.shares_memory(view, same)  # the batch's own column is not kept alive
    mixed = np.array([7, 7, 8, 7], np.int64)
    assert shared_ts(mixed) is mixed
    assert shared_ts(np.array([9], np.int64)).strides == (8,)
