"""The scrape threads' work per sample, in one thread: the parse, then ``ScrapeCache.ingest`` with
``EmbeddedStore.append``.

``--targets`` caches fed ``bench/_targets.py``'s bodies (``--series`` series each) for ``--rounds`` scrapes
after two warm-up rounds (the first one creates the series), with the server's GC settings (``gc.freeze()``,
the same thresholds); thread CPU (``time.thread_time``) of the parse and of the ingest step apart, per sample.
The parse uses one ``ParseMemo`` per target as the scrape loop does (when the code has it).
``--contend N`` runs N other threads of pure Python meanwhile, so the GIL is shared as in the server (where a
second scrape thread, the event loop and the fold run beside each scrape): the step's own thread CPU under
hand-offs, which the single-thread figure does not show.
Old code against new: ``PYTHONPATH=/tmp/old .venv/bin/python bench/ingest_step.py``, alternated run by run.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import threading
import time
from pathlib import Path

from _targets import make_body
from prometheus_client import CollectorRegistry

import collector.exposition
from collector.cache import ScrapeCache
from collector.exposition import default_parser
from collector.settings import ScrapeSettings
from metrics_store.embedded.store import EmbeddedStore

CONTENT_TYPE = "text/plain; version=0.0.4"


def _spin(stop: threading.Event) -> None:
    """Pure-Python work that holds the GIL between its switch-interval hand-offs, as a parsing thread."""
    while not stop.is_set():
        sum(i * i for i in range(1000))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument(
        "--contend",
        type=int,
        default=0,
        help="this many other threads running Python meanwhile (the GIL shared as in the server)",
    )
    a = ap.parse_args()
    stop = threading.Event()
    for _ in range(a.contend):
        threading.Thread(target=_spin, args=(stop,), daemon=True).start()
    settings = ScrapeSettings("bench", 1, 1, 10**8, 0, 0, 0, 0, False, True, ())
    parser = default_parser(utf8_names=True, normalise_float_labels=True)
    sec = int(time.time())
    with tempfile.TemporaryDirectory(prefix="bench-ingest-step-") as tmp:
        store = EmbeddedStore(Path(tmp), registry=CollectorRegistry(), background=False)
        caches = [
            ScrapeCache(store, (("instance", f"127.0.0.1:{9000 + t}"), ("job", "bench")), settings)
            for t in range(a.targets)
        ]
        # one parse memo per target as the scrape loop keeps (code before the memo existed: none)
        memo_cls = getattr(collector.exposition, "ParseMemo", None)
        memos = [memo_cls() if memo_cls is not None else None for _ in range(a.targets)]
        bodies = [[make_body(t, a.series, sec + r) for t in range(a.targets)] for r in range(a.rounds + 2)]
        gc.freeze()
        gc.set_threshold(10_000, 50, 1000)  # as paramedic serve after start-up
        parse_s = ingest_s = 0.0
        samples = 0
        for r, round_bodies in enumerate(bodies):
            for cache, memo, body in zip(caches, memos, round_bodies, strict=True):
                t0 = time.thread_time()
                exposition = (
                    parser.parse(body, CONTENT_TYPE, memo) if memo else parser.parse(body, CONTENT_TYPE)
                )
                t1 = time.thread_time()
                cache.ingest(exposition, (sec + r) * 1000, 0.0, 0.01)
                t2 = time.thread_time()
                if r >= 2:
                    parse_s += t1 - t0
                    ingest_s += t2 - t1
                    samples += len(exposition.samples) + 5
        store.close()
    stop.set()
    print(
        f"{samples:,} samples: parse {parse_s / samples * 1e6:.3f} µs/sample, "
        f"ScrapeCache.ingest + EmbeddedStore.append {ingest_s / samples * 1e6:.3f} µs/sample"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
