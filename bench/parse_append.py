"""The scrape hot path without the network: parse a body, resolve series through the per-target cache and
append to the embedded store (WAL included), in steady state. Prints samples/s per core (one thread).

    .venv/bin/python bench/parse_append.py [--series 2000] [--scrapes 200]

Goal from issue 2: >= 500k samples/s per core for parse + append.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _targets import make_body
from prometheus_client import CollectorRegistry

from collector.cache import ScrapeCache
from collector.exposition import parse
from collector.settings import ScrapeSettings
from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded.store import EmbeddedStore


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--scrapes", type=int, default=200)
    args = ap.parse_args()
    settings = ScrapeSettings("bench", 1.0, 1.0, 1 << 30, 0, 0, 0, 0, False, True, ())
    bodies = [make_body(0, args.series, s) for s in range(20)]
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedStore(
            Path(tmp), EmbeddedStoreConfig(), registry=CollectorRegistry(), background=False
        )
        cache = ScrapeCache(store, (("instance", "t:1"), ("job", "bench")), settings)
        cache.ingest(parse(bodies[0]), 0, 0.0, 0.0)  # cold scrape: fills the caches
        t_parse = t_ingest = 0.0
        n = 0
        cpu0 = time.process_time()
        for i in range(args.scrapes):
            body = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            exp = parse(body)
            t1 = time.perf_counter()
            cache.ingest(exp, (i + 1) * 1000, 0.0, 0.0)
            t2 = time.perf_counter()
            t_parse += t1 - t0
            t_ingest += t2 - t1
            n += len(exp.samples)
            if i % 50 == 49:
                store.checkpoint()  # as the background thread would; not timed
        cpu = time.process_time() - cpu0
        store.close()
    total = t_parse + t_ingest
    print(f"parse+append, {args.series} series/scrape, {args.scrapes} scrapes, steady state, one thread:")
    print(f"  parse          {t_parse / n * 1e6:6.2f} us/sample")
    print(f"  cache+append   {t_ingest / n * 1e6:6.2f} us/sample")
    print(f"  total          {total / n * 1e6:6.2f} us/sample = {n / total:,.0f} samples/s per core")
    print(f"  (process CPU incl. checkpoints: {n / cpu:,.0f} samples per CPU-second)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
