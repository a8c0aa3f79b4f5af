"""Benchmark of the embedded metrics store. Prints figures; asserts nothing.

    .venv/bin/python bench/store.py [--series 2000] [--batches 500]

* append: steady-state scrape-like batches (one sample per series per batch, refs resolved once), timed
  with numpy inputs and with Python lists (what a parser typically hands over)
* WAL overhead: the same batches encoded + written without the rest of append
* bytes per sample on disk after a checkpoint (realistic counters and gauges)
* checkpoint (fold into DuckDB) throughput
* select latency for 1k series × 1 h (15 s interval), from DuckDB and from the head
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.embedded._wal import WalWriter, encode_samples
from metrics_store.model import Matcher, MatchOp, labels_from

T0 = 1_700_000_000_000
STEP = 15_000


def _values(rng: np.random.Generator, n_series: int, k: int, counters: np.ndarray) -> np.ndarray:
    """Half counters (monotonic integers), half gauges with 2 decimals."""
    out = np.empty(n_series)
    half = n_series // 2
    counters += rng.integers(0, 50, half)
    out[:half] = counters
    out[half:] = np.round(50 + 10 * np.sin(k / 20 + np.arange(n_series - half)), 2)
    return out


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--batches", type=int, default=500)
    args = ap.parse_args()
    n, batches = args.series, args.batches
    rng = np.random.default_rng(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    print(f"embedded store bench: {n} series/batch × {batches} batches = {n * batches:,} samples; dir {tmp}")
    try:
        cfg = EmbeddedStoreConfig(
            checkpoint_samples=10**9, checkpoint_interval_s=3600, downsample_after_s=None
        )
        store = EmbeddedStore(tmp / "s", cfg, registry=CollectorRegistry(), background=False)
        refs = np.array(
            [
                store.series_ref(labels_from({"__name__": f"m{i % 50}", "instance": f"cell-{i // 50}"}))
                for i in range(n)
            ],
            dtype=np.uint32,
        )
        counters = np.zeros(n // 2)
        batches_data = [
            (np.full(n, T0 + k * STEP, dtype=np.int64), _values(rng, n, k, counters)) for k in range(batches)
        ]

        t = time.perf_counter()
        for ts, vals in batches_data:
            store.append(refs, ts, vals)
        el = time.perf_counter() - t
        total = n * batches
        print(f"append (numpy input):   {total / el:>14,.0f} samples/s   {el / total * 1e6:.3f} µs/sample")

        ref_list = refs.tolist()
        lists = [(ts.tolist(), vals.tolist()) for ts, vals in batches_data[:100]]
        t = time.perf_counter()
        for k, (ts_l, vals_l) in enumerate(lists):
            store.append(ref_list, [x + batches * STEP + k for x in ts_l[:1]] * n, vals_l)
        el2 = time.perf_counter() - t
        print(
            f"append (list input):    {100 * n / el2:>14,.0f} samples/s   "
            f"{el2 / (100 * n) * 1e6:.3f} µs/sample"
        )

        wal = WalWriter(tmp / "walonly", "never", 1.0, time.time)
        t = time.perf_counter()
        for ts, vals in batches_data:
            wal.write(encode_samples(refs, ts, vals))
        elw = time.perf_counter() - t
        wal.close()
        print(
            f"WAL encode+write only:  {elw / total * 1e6:.3f} µs/sample ({elw / el:.0%} of append), "
            f"{_dir_size(tmp / 'walonly') / total:.1f} WAL bytes/sample"
        )

        q = [Matcher("instance", MatchOp.RE, "cell-(1[0-9]|[0-9])")]  # 20 cells × 50 metrics = 1,000 series
        hour = 3600_000
        t = time.perf_counter()
        res = store.select(q, T0, T0 + hour)
        elq = time.perf_counter() - t
        print(
            f"select 1k series × 1 h (head):   {elq * 1000:.1f} ms ({len(res)} series, "
            f"{sum(len(s.timestamps_ms) for s in res):,} samples)"
        )

        t = time.perf_counter()
        store.checkpoint()
        elc = time.perf_counter() - t
        total_all = total + 100 * n
        print(f"checkpoint into DuckDB: {total_all / elc:>14,.0f} samples/s ({elc:.2f} s)")
        store.close()
        db = tmp / "s" / "metrics.duckdb"
        print(
            f"on disk after checkpoint: {db.stat().st_size / total_all:.2f} bytes/sample "
            f"(DuckDB file {db.stat().st_size / 1e6:.1f} MB, WAL {_dir_size(tmp / 's' / 'wal')} bytes)"
        )

        store = EmbeddedStore(tmp / "s", cfg, registry=CollectorRegistry(), background=False)
        for _ in range(2):
            t = time.perf_counter()
            res = store.select(q, T0, T0 + hour)
            elq = time.perf_counter() - t
        print(
            f"select 1k series × 1 h (DuckDB): {elq * 1000:.1f} ms ({len(res)} series, "
            f"{sum(len(s.timestamps_ms) for s in res):,} samples)"
        )
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
