"""Memory per active series held by Python objects of the scrape path, by module (issue 18).

``--targets`` scrape caches with one parse memo each are fed ``bench/_targets.py``'s bodies (``--series``
series each) for ``--scrapes`` scrapes, parsed and appended to an ``EmbeddedStore`` as the scrape threads
do (no HTTP, no fold); ``tracemalloc`` then gives what is still allocated, grouped by the source file that
allocated it (the label index, the store's head and series lists, the parse memo, the scrape cache), per
active series. Deterministic (no timing): a figure of what is held, not of RSS, which also counts the
interpreter, the libraries, DuckDB and the allocator's free memory.

Old code against new: ``PYTHONPATH=/tmp/old .venv/bin/python bench/series_memory.py``.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from pathlib import Path

from _targets import make_body
from prometheus_client import CollectorRegistry

from collector.cache import ScrapeCache
from collector.exposition import ParseMemo, default_parser
from collector.settings import ScrapeSettings
from metrics_store.embedded.store import EmbeddedStore

CONTENT_TYPE = "text/plain; version=0.0.4"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--scrapes", type=int, default=20, help="20: the 2 M-sample fold at 100k series")
    a = ap.parse_args()
    settings = ScrapeSettings("bench", 1, 1, 10**8, 0, 0, 0, 0, False, True, ())
    parser = default_parser(utf8_names=True, normalise_float_labels=True)
    sec = int(time.time())
    tracemalloc.start()
    with tempfile.TemporaryDirectory(prefix="bench-series-memory-") as tmp:
        store = EmbeddedStore(Path(tmp), registry=CollectorRegistry(), background=False)
        gc.collect()
        before = tracemalloc.take_snapshot()
        caches = [
            ScrapeCache(store, (("instance", f"127.0.0.1:{9000 + t}"), ("job", "bench")), settings)
            for t in range(a.targets)
        ]
        memos = [ParseMemo() for _ in range(a.targets)]
        active = 0
        for r in range(a.scrapes):
            for t, (cache, memo) in enumerate(zip(caches, memos, strict=True)):
                exposition = parser.parse(make_body(t, a.series, sec + r), CONTENT_TYPE, memo)
                result = cache.ingest(exposition, (sec + r) * 1000, 0.0, 0.001)
                if r == 0:
                    active += result.appended
        del exposition, result
        gc.collect()
        diff = tracemalloc.take_snapshot().compare_to(before, "filename")
        store.close()
    tracemalloc.stop()
    print(f"{a.targets} targets x {a.series} series, {a.scrapes} scrapes in the head: {active:,} active")
    for stat in diff[:8]:
        name = "/".join(Path(stat.traceback[0].filename).parts[-3:])
        print(f"  {stat.size_diff / active:8.0f} B/series  {name}")
    print(f"  {sum(s.size_diff for s in diff) / active:8.0f} B/series  total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
