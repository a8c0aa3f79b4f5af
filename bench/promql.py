"""PromQL engine speed over a MemoryStore: range queries on synthetic counters, printed as figures.

.venv/bin/python bench/promql.py [--series 1000] [--hours 6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from metrics_store.promql import Engine

QUERIES = [
    "rate(http_requests_total[5m])",
    "sum by (job) (rate(http_requests_total[5m]))",
    "avg_over_time(http_requests_total[10m])",
    "quantile_over_time(0.9, http_requests_total[10m])",
    "http_requests_total / on(instance, job) http_requests_total > 0.5",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=6)
    ap.add_argument("--scrape-s", type=int, default=15)
    args = ap.parse_args()
    store = MemoryStore()
    n = int(args.hours * 3600 / args.scrape_s)
    ts = [i * args.scrape_s * 1000 for i in range(n)]
    rng = np.random.default_rng(1)
    for s in range(args.series):
        ref = store.series_ref(
            labels_from({"__name__": "http_requests_total", "job": f"job{s % 10}", "instance": f"i{s}"})
        )
        store.append([ref] * n, ts, np.cumsum(rng.integers(0, 100, n)).astype(float).tolist())
    total = args.series * n
    print(f"{args.series} series x {n} samples = {total:,} samples, {args.hours}h at {args.scrape_s}s")
    engine = Engine(store, registry=CollectorRegistry())
    end = ts[-1]
    for query in QUERIES:
        for step_s, label in ((60, "range 1m step"), (15, "range 15s step")):
            steps = end // (step_s * 1000) + 1
            t0 = time.perf_counter()
            result = engine.range_query(query, 0, end, step_s * 1000)
            dt = time.perf_counter() - t0
            points = sum(len(s.values) for s in result.series)
            print(
                f"{query:70s} {label:15s} {steps:6d} steps {dt * 1000:9.1f} ms  {points / dt:13,.0f} points/s"
            )
        t0 = time.perf_counter()
        engine.instant_query(query, end)
        print(f"{query:70s} {'instant':15s} {1:6d} steps {(time.perf_counter() - t0) * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
