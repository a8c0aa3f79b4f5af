"""Where a search worker's CPU goes in one two-term search (issue 18, stop 33): the worker's whole job
(:func:`log_pipeline.search._search_worker.answer`, as ``bench/logs.py``'s request reaches it: limit 100,
gzip accepted) run in this process on a read-only store, split into phases by thread CPU.

Each phase is a function of the search path wrapped to add its thread CPU to a per-job tally (the wrappers
cost ~1 µs a call, the same for every checkout). Phases nest: ``page`` holds ``load``, which holds
``record``; ``search_body`` holds everything but ``encode`` (gzip and the reply's body). ``--gap-s`` sleeps
before each job, as a user's search reaches an idle worker (``bench/README.md``: "a search after an idle
gap"); 0 runs them back to back. ``--checkout`` measures another tree (e.g. main exported with
``git archive``) with the same script, so old and new can be alternated run by run.

.venv/bin/python bench/search_path.py --build /tmp/search-path            # a 1M-line index, once
.venv/bin/python bench/search_phases.py --data /tmp/search-path --gap-s 0.1
.venv/bin/python bench/search_phases.py --data /tmp/search-path --checkout /tmp/old_main --gap-s 0.1
"""

from __future__ import annotations

import argparse
import collections
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (module, attribute, phase): the functions timed, looked up where the search path calls them
PHASES = [
    ("log_pipeline.search.tantivy_store", "TantivyReader.refresh", "refresh (list + reload)"),
    ("log_pipeline.search.tantivy_store", "parse_query", "query parse"),
    ("log_pipeline.search.tantivy_store", "restrict", "tenant scope"),
    ("log_pipeline.search.tantivy_store", "conjunction_count", "count (bitset walk)"),
    ("log_pipeline.search.tantivy_store", "_page", "page (window search + load)"),
    ("log_pipeline.search.tantivy_store", "_load", "load (fetch + decode docs)"),
    ("log_pipeline.search.tantivy_store", "_record", "record decode"),
    ("log_pipeline.search.render", "hit_json", "hit dicts"),
    ("log_pipeline.search._search_worker", "search_body", "search_body (all but encode)"),
    ("log_pipeline.search._search_worker", "encode", "encode (gzip)"),
]


def _wrap(tally: dict[str, float], module: str, attr: str, phase: str) -> None:
    owner: Any = importlib.import_module(module)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    fn: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        c = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            tally[phase] += time.thread_time() - c

    setattr(owner, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True, help="a directory built by search_path.py --build")
    ap.add_argument("--checkout", type=Path, help="the tree whose code to measure (default: this one)")
    ap.add_argument("--gap-s", type=float, default=0.0, help="idle time before each job")
    ap.add_argument("--runs", type=int, default=61)
    ap.add_argument("--highlight", action="store_true")
    ap.add_argument("--query", default="timeout AND upstream")
    a = ap.parse_args()
    sys.path.insert(0, str(a.checkout or Path(__file__).resolve().parents[1]))
    from prometheus_client import CollectorRegistry

    from log_pipeline.config import SearchApiConfig
    from log_pipeline.search._search_worker import answer
    from log_pipeline.search.tantivy_store import TantivyReader
    from platforms.tenancy import FOUNDATION

    tally: dict[str, float] = collections.defaultdict(float)
    for module, attr, phase in PHASES:
        _wrap(tally, module, attr, phase)
    reader = TantivyReader(
        a.data / "data" / "logs" / "search", partition_s=86_400, registry=CollectorRegistry()
    )
    job = ("search", ((a.query, None, None, 100, None), a.highlight, SearchApiConfig(), True, FOUNDATION))
    for _ in range(5):  # the first search has no window anchor (tantivy_store._anchor)
        answer(reader, job)
    total: list[float] = []
    per: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(a.runs):
        if a.gap_s:
            time.sleep(a.gap_s)
        tally.clear()
        c = time.thread_time()
        status, reply = answer(reader, job)
        total.append(time.thread_time() - c)
        if status != "ok":
            raise SystemExit(f"the search failed: {reply}")
        for phase, s in tally.items():
            per[phase].append(s)
    print(
        f"{a.checkout or 'this checkout'}: {a.query!r} limit 100{' highlighted' if a.highlight else ''}, "
        f"gap {a.gap_s} s, {a.runs} jobs: whole job p50 {statistics.median(total) * 1e3:.3f} ms "
        f"(mean {statistics.mean(total) * 1e3:.3f}) thread CPU"
    )
    for phase, xs in sorted(per.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {phase:30s} p50 {statistics.median(xs) * 1e3:7.3f} ms")


if __name__ == "__main__":
    main()
