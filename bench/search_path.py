"""Where the wall time of one ``/api/v1/logs/search`` goes (issue 18): the same search measured at each layer
of its path, the layers alternated run by run so the machine's other load hits them alike.

* ``render``: the search worker's whole job in this process
  (:func:`log_pipeline.search._search_worker.answer`: refresh, search, JSON, gzip) on a read-only store;
* ``pool``: the same job through a :class:`~log_pipeline.search.workers.SearchWorkerPool` started here (the
  hop to a worker process and back, the worker's wake-up), its workers at the server's nice 10 and at this
  process's own nice;
* ``http ready``: ``GET /-/ready`` on ``paramedic serve`` (HTTP, middleware, routing: no search);
* ``http``: the search over HTTP on ``paramedic serve`` with ``http.client`` (one kept-alive connection) and
  with ``httpx`` (as ``bench/logs.py`` asks);
* ``--grep``: ``grep timeout | grep -c upstream`` on the same lines in each round too (as ``bench/logs.py``).

.venv/bin/python bench/search_path.py --build /tmp/search-path   # builds 1M lines first (~15-40 s)
.venv/bin/python bench/search_path.py --data /tmp/search-path    # an index built before
.venv/bin/python bench/search_path.py --data /tmp/search-path --limit 500   # a page over 256 hits (2 chunks)
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.logs import corpus, serve
from bench.search_costs import build
from log_pipeline.config import SearchApiConfig
from log_pipeline.search._search_worker import answer
from log_pipeline.search.tantivy_store import TantivyReader
from log_pipeline.search.workers import SearchWorkerPool
from metrics_store.background import BACKGROUND_NICE
from platforms.tenancy import FOUNDATION

QUERIES = {"needle": '"needle-xyzzy"', "two-term": "timeout AND upstream"}


def _index_root(work: Path) -> Path:
    return work / "data" / "logs" / "search"


def layers(
    work: Path,
    q: str,
    base: str,
    pools: dict[int, SearchWorkerPool],
    loop: asyncio.AbstractEventLoop,
    limit: int = 100,
) -> dict[str, Callable[[], object]]:
    limits = SearchApiConfig()
    reader = TantivyReader(_index_root(work), partition_s=86_400, registry=CollectorRegistry())
    job = ("search", ((q, None, None, limit, None), False, limits, True, FOUNDATION))
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
    client = httpx.Client(base_url=base, timeout=60)
    params: dict[str, str | int] = {"q": q, "limit": limit}
    path = "/api/v1/logs/search?" + urlencode(params)

    def get(target: str) -> bytes:
        conn.request("GET", target, headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{target}: HTTP {response.status}")
        return body

    def through(pool: SearchWorkerPool) -> Callable[[], object]:
        return lambda: loop.run_until_complete(pool.search_body(job[1][0], False, limits, gzip_ok=True))

    return {
        "render (in-process)": lambda: answer(reader, job),
        **{f"pool, workers at nice {n}": through(pool) for n, pool in pools.items()},
        "http /-/ready": lambda: get("/-/ready"),
        "http search (http.client)": lambda: get(path),
        "http search (httpx)": lambda: client.get("/api/v1/logs/search", params=params).json(),
    }


def measure(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, tuple[float, float]]:
    """Per layer: p50 wall and p50 CPU of this process (all threads, ms); the layers alternate."""
    for fn in fns.values():
        fn()
        fn()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            c, t = time.process_time(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    return {k: (statistics.median(wall[k]) * 1e3, statistics.median(cpu[k]) * 1e3) for k in fns}


def _grep(path: Path) -> Callable[[], object]:
    cmd = ["sh", "-c", f"grep timeout {path} | grep -c upstream"]
    return lambda: subprocess.run(cmd, capture_output=True, check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--build", type=Path, help="build a 1M-line index in this new directory first")
    group.add_argument("--data", type=Path, help="a directory built by --build before")
    ap.add_argument("--runs", type=int, default=41)
    ap.add_argument("--grep", action="store_true", help="run the two-term grep in each round too")
    ap.add_argument("--limit", type=int, default=100, help="hits per page (the API's default: 100)")
    a = ap.parse_args()
    work: Path = a.build or a.data
    if a.build:
        build(_index_root(work), 1_000_000)
        with (work / "logs.txt").open("w") as f:
            f.writelines(line + "\n" for line in corpus(1_000_000))
    proc, base = serve(work, 0)
    limits = SearchApiConfig()
    pools = {  # the server's nice, and none beyond this process's own
        n: SearchWorkerPool(
            _index_root(work), partition_s=86_400, limits=limits, nice=n, registry=CollectorRegistry()
        )
        for n in (BACKGROUND_NICE, 0)
    }
    loop = asyncio.new_event_loop()
    try:
        for pool in pools.values():
            pool.start()
        for name, q in QUERIES.items():
            fns = layers(work, q, base, pools, loop, a.limit)
            if a.grep:
                fns["grep (two-term)"] = _grep(work / "logs.txt")
            figures = measure(fns, a.runs)
            print(f"{name} {q!r} limit {a.limit}: p50 wall ms / p50 CPU ms of this process, {a.runs} rounds")
            for layer, (w, c) in figures.items():
                print(f"  {layer:28s} {w:7.2f} {c:7.2f}")
    finally:
        for pool in pools.values():
            pool.close()
        loop.close()
        proc.stop()


if __name__ == "__main__":
    main()
