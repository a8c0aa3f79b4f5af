"""bench/ui.py: dashboard timings.

Each part runs on the embedded store (the server's default: DuckDB history + WAL head; the synthetic data
is checkpointed into DuckDB, as history older than a few minutes is in a running server) and on the
MemoryStore, and prints both.

1. Overview server time with 50 apps (x 2 instances, 1 h of 15 s samples, a stub platform and alerts): the
   page model built in-process (median of N, per-section timings of the slowest run) and over HTTP (uvicorn
   on loopback; the Server-Timing header and the client round trip). Every run is cold: nothing is cached
   between page views.
2. App page in Debian's Chromium: 24 h of data for 50 series (one app with 50 instances: memory and CPU
   charts have 50 series each), navigation start -> every chart drawn (the page's
   ``paramedic:charts-drawn`` performance mark), with the query API requests the page made (count, the
   slowest response's duration, JSON bytes).

Usage: .venv/bin/python bench/ui.py [--runs 10] [--store embedded|memory|both]
Targets (issue 7): overview <= 100 ms server time; app page <= 1 s in the browser.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry

from dashboard import Sources
from dashboard._overview import build_overview
from metrics_store.embedded import EmbeddedStore
from metrics_store.memory import MemoryStore
from paramedic.dashboard import PromqlMetricsReader
from tests.dashboard.stubs import StubActions, StubAlerts, StubPlatform
from tests.dashboard.synthetic import fill, serve_in_thread
from tests.support.browser import CHROMIUM, FLAGS


def _ms(samples: list[float]) -> str:
    p90 = sorted(samples)[max(0, int(len(samples) * 0.9) - 1)]
    return f"median {statistics.median(samples):7.1f} ms  p90 {p90:7.1f} ms"


@contextlib.contextmanager
def open_store(kind: str) -> Iterator[Any]:
    if kind == "memory":
        yield MemoryStore()
        return
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        store = EmbeddedStore(Path(tmp), registry=CollectorRegistry(), background=False)
        try:
            yield store
        finally:
            store.close()


def load(store: Any, **kw: Any) -> int:
    n = fill(store, **kw)
    if isinstance(store, EmbeddedStore):
        store.checkpoint()  # history into DuckDB, as in a server that has been running
    return n


def overview(kind: str, runs: int) -> None:
    with open_store(kind) as store:
        _overview(kind, store, runs)


def _overview(kind: str, store: Any, runs: int) -> None:
    began = time.perf_counter()
    n = load(store, apps=50, instances=2, hours=1)
    print(
        f"overview [{kind}]: 50 apps x 2 instances, {n:,} samples loaded "
        f"in {time.perf_counter() - began:.1f}s"
    )
    apps = [f"app-{a:02d}" for a in range(50)]
    sources = Sources(
        metrics=PromqlMetricsReader(store),
        alerts=StubAlerts(),
        actions=StubActions(),
        platform=StubPlatform(apps),
    )
    build_overview(sources)  # warm-up
    model_ms, cpu_ms = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        build_overview(sources)
        model_ms.append((time.perf_counter() - t) * 1000)
        cpu_ms.append((time.process_time() - c) * 1000)
    print(f"  in-process model (all queries):  {_ms(model_ms)}")
    print(f"  its CPU time (all threads):      {_ms(cpu_ms)}  (less sensitive to a busy machine)")
    slowest = sorted(build_overview(sources).timings_ms.items(), key=lambda kv: -kv[1])[:5]
    print("  slowest sections (one run): " + ", ".join(f"{k} {v:.0f} ms" for k, v in slowest))
    with serve_in_thread(store, sources) as url, httpx.Client() as client:
        client.get(url + "/")
        http_ms, server_ms = [], []
        for _ in range(runs):
            t = time.perf_counter()
            resp = client.get(url + "/")
            http_ms.append((time.perf_counter() - t) * 1000)
            server_ms.append(float(resp.headers["server-timing"].split("dur=")[1]))
            assert resp.status_code == 200 and resp.text.count("<tr>") >= 50
        print(f"  server time (Server-Timing):     {_ms(server_ms)}")
        print(f"  over HTTP (client round trip):   {_ms(http_ms)}")
    print(f"  target <= 100 ms server time: {'OK' if statistics.median(server_ms) <= 100 else 'MISSED'}")


_API_TIMINGS = """JSON.stringify(performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/api/v1/'))
  .map(e => [e.name, e.responseEnd - e.startTime, e.encodedBodySize, e.decodedBodySize]))"""


def app_page(kind: str, runs: int, gzip: bool = True) -> None:
    """The server runs in a child process (as in production: the browser driver's Python must not share a
    GIL with the server's threads); this process drives Chromium."""
    import json
    import subprocess

    from playwright.sync_api import sync_playwright

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-app-page", kind, *([] if gzip else ["--no-gzip"])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        print(child.stdout.readline().rstrip())
        url = child.stdout.readline().strip()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            times, slowest, requests, wire, decoded = [], [], 0, 0, 0
            for i in range(runs + 1):
                page.goto(url + "/apps/app-00?range=24h")
                page.wait_for_selector("body[data-charts-drawn]", state="attached", timeout=60_000)
                mark = page.evaluate("performance.getEntriesByName('paramedic:charts-drawn')[0].startTime")
                series = page.locator('.chart[data-key="memory"]').get_attribute("data-series")
                api = json.loads(page.evaluate(_API_TIMINGS))
                if i:  # the first load warms the browser's caches (static files) and the server's imports
                    times.append(float(mark))
                    slowest.append(max(a[1] for a in api))
                    requests, wire, decoded = len(api), sum(a[2] for a in api), sum(a[3] for a in api)
            browser.close()
    finally:
        child.stdin.close()
        child.wait(30)
    print(f"  memory chart series: {series}")
    print(f"  navigation start -> charts drawn: {_ms(times)}")
    print(
        f"  query API: {requests} requests, slowest response {_ms(slowest)}, "
        f"{wire / 1024:.0f} KiB on the wire ({decoded / 1024:.0f} KiB JSON)"
    )
    print(f"  target <= 1000 ms: {'OK' if statistics.median(times) <= 1000 else 'MISSED'}")


def serve_app_page(kind: str, gzip: bool) -> None:
    """Child of :func:`app_page`: loads the data, serves it, prints a summary line and the URL, and stops
    when stdin closes."""
    with open_store(kind) as store:
        began = time.perf_counter()
        n = load(store, apps=1, instances=50, hours=24, step_s=30)
        print(
            f"app page [{kind}]: 1 app x 50 instances, 24 h at 30 s, {n:,} samples loaded "
            f"in {time.perf_counter() - began:.1f}s",
            flush=True,
        )
        with _serve(store, gzip=gzip) as url:
            print(url, flush=True)
            sys.stdin.read()


@contextlib.contextmanager
def _serve(store: Any, *, gzip: bool) -> Iterator[str]:
    """The query API and the dashboard over ``store`` on loopback, with the server's gzip middleware."""
    import threading

    import uvicorn
    from fastapi import FastAPI

    from dashboard import dashboard_router
    from metrics_store.api import query_router
    from tests.support.servers import free_port, wait_until

    app = FastAPI()
    if gzip:
        from paramedic.assembly import add_gzip

        add_gzip(app)
    app.include_router(query_router(store, registry=CollectorRegistry()))
    app.include_router(dashboard_router(Sources(metrics=PromqlMetricsReader(store))))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 20, "the bench server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--store", choices=("embedded", "memory", "both"), default="both")
    parser.add_argument("--no-gzip", action="store_true", help="app page server without gzip")
    parser.add_argument("--serve-app-page", choices=("embedded", "memory"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_app_page:
        serve_app_page(args.serve_app_page, gzip=not args.no_gzip)
        return
    kinds = ("embedded", "memory") if args.store == "both" else (args.store,)
    for kind in kinds:
        overview(kind, args.runs)
    for kind in kinds:
        app_page(kind, max(3, args.runs // 2), gzip=not args.no_gzip)


if __name__ == "__main__":
    main()
