"""bench/ui.py: dashboard timings.

1. Overview server time with 50 apps (x 2 instances, 1 h of 15 s samples in a MemoryStore, a stub platform
   and alerts): the page rendered in-process (median of N) and over HTTP (uvicorn on loopback).
2. App page in Debian's Chromium: 24 h of data for 50 series (one app with 50 instances: memory and CPU
   charts have 50 series each), navigation start -> every chart drawn (the page's
   ``paramedic:charts-drawn`` performance mark).

Usage: .venv/bin/python bench/ui.py [--runs 10]
Targets (issue 7): overview <= 100 ms server time; app page <= 1 s in the browser.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import Sources
from dashboard._overview import build_overview
from metrics_store.memory import MemoryStore
from paramedic.dashboard import EngineMetrics
from tests.dashboard.stubs import StubActions, StubAlerts, StubPlatform
from tests.dashboard.synthetic import fill, serve_in_thread
from tests.support.browser import CHROMIUM, FLAGS


def _ms(samples: list[float]) -> str:
    p90 = sorted(samples)[max(0, int(len(samples) * 0.9) - 1)]
    return f"median {statistics.median(samples):7.1f} ms  p90 {p90:7.1f} ms"


def overview(runs: int) -> None:
    store = MemoryStore()
    began = time.perf_counter()
    n = fill(store, apps=50, instances=2, hours=1)
    print(f"overview: 50 apps x 2 instances, {n:,} samples loaded in {time.perf_counter() - began:.1f}s")
    apps = [f"app-{a:02d}" for a in range(50)]
    sources = Sources(
        metrics=EngineMetrics(store), alerts=StubAlerts(), actions=StubActions(), platform=StubPlatform(apps)
    )
    build_overview(sources)  # warm-up
    model_ms = []
    for _ in range(runs):
        t = time.perf_counter()
        build_overview(sources)
        model_ms.append((time.perf_counter() - t) * 1000)
    print(f"  in-process model (all queries):  {_ms(model_ms)}")
    slowest = sorted(build_overview(sources).timings_ms.items(), key=lambda kv: -kv[1])[:5]
    print("  slowest sections: " + ", ".join(f"{k} {v:.0f} ms" for k, v in slowest))
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


def app_page(runs: int) -> None:
    from playwright.sync_api import sync_playwright

    store = MemoryStore()
    began = time.perf_counter()
    n = fill(store, apps=1, instances=50, hours=24, step_s=30)
    print(
        f"app page: 1 app x 50 instances, 24 h at 30 s, {n:,} samples loaded "
        f"in {time.perf_counter() - began:.1f}s"
    )
    with serve_in_thread(store) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        times = []
        for i in range(runs + 1):
            page.goto(url + "/apps/app-00?range=24h")
            page.wait_for_selector("body[data-charts-drawn='6']", state="attached", timeout=60_000)
            mark = page.evaluate("performance.getEntriesByName('paramedic:charts-drawn')[0].startTime")
            series = page.locator('.chart[data-key="memory"]').get_attribute("data-series")
            if i:  # the first load warms the server's and the browser's caches
                times.append(float(mark))
        browser.close()
    print(f"  memory chart series: {series}")
    print(f"  navigation start -> charts drawn: {_ms(times)}")
    print(f"  target <= 1000 ms: {'OK' if statistics.median(times) <= 1000 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    overview(args.runs)
    app_page(max(3, args.runs // 2))


if __name__ == "__main__":
    main()
