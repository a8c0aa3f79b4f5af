"""Rule evaluation speed: N rules over M series, time per evaluation cycle (goal: 1k rules over 100k series
in < 1 s). Rules are realistic pack-style alerts: warning/critical pairs of `E > N` over plain gauges,
rates, *_over_time and sum by (app); series are scraped every 15 s for the last 20 minutes.

.venv/bin/python bench/rules.py [--series 100000] [--rules 1000] [--cycles 5] [--store memory|embedded]
    [--no-window]   query the store directly, without the RecentWindow
    [--service]     build the rule engine as the server does (AlertingService with rules.recent_window; with
                    --no-window: recent_window disabled, i.e. the server before the window was wired) and
                    feed the samples through the service's appender
.venv/bin/python bench/rules.py --append-cost [--series 2000] [--scrapes 200]
    the scrape hot path (parse + ScrapeCache + append, as bench/parse_append.py) into the embedded store
    alone vs. through the service's WindowTee (15 min window, a scrape every 15 s so eviction runs)
.venv/bin/python bench/rules.py --latency [--scrape-interval-s 1]
    detection latency: a real collector scrapes a local target every second, the rule manager's interval is
    30 s, the target stops; prints the time until `up == 0` (for: 0s) is sent (evaluation on arrival).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from alerting.config import RecentWindowConfig, RulesConfig
from alerting.rules import (
    CycleCache,
    FanOut,
    RecentWindow,
    RuleManager,
    RuleOptions,
    WindowedQuerier,
    WindowTee,
)
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from metrics_store.promql import Engine

GAUGE_EXPRS = [  # (expression, warning, critical): about 1% of series cross the warning level
    ("{m}", 0.99, 0.995),
    ("avg_over_time({m}[5m])", 0.75, 0.8),
    ("max_over_time({m}[5m])", 0.9999, 0.99995),
    ("max by (app) ({m})", 0.9999, 0.99995),
    ("min_over_time({m}[5m])", 0.4, 0.45),
]
COUNTER_EXPRS = [
    ("rate({m}[5m])", 0.0433, 0.046),
    ("increase({m}[5m])", 13, 13.8),
    ("sum by (app) (rate({m}[5m]))", 0.081, 0.085),
    ("rate({m}[1m])", 0.056, 0.06),
    ("count_over_time({m}[5m])", 100, 101),
]


def _rules(n_rules: int, metrics: list[str]) -> str:
    lines = ["groups:"]
    per_group = 100
    for i in range(n_rules):
        if i % per_group == 0:
            lines += [f"  - name: g{i // per_group}", "    interval: 15s", "    rules:"]
        m = metrics[(i // 10) % len(metrics)]
        exprs = COUNTER_EXPRS if m.endswith("_total") else GAUGE_EXPRS
        text, warn, crit = exprs[(i // 2) % len(exprs)]
        expr = text.format(m=m)
        level = "critical" if i % 2 else "warning"
        thr = crit if i % 2 else warn
        lines += [
            f"      - alert: A{i}",
            f"        expr: {expr} > {thr}",
            "        for: 1m",
            f"        labels: {{severity: {level}}}",
            "        annotations: {summary: '{{ $labels.app }} {{ $value | humanize }}'}",
        ]
    return "\n".join(lines) + "\n"


async def _latency(scrape_interval_s: float) -> float:
    # only this mode needs an HTTP target and the collector
    import asyncio
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from collector.config import CollectorConfig, StaticJob
    from collector.manager import ScrapeManager

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"# TYPE x gauge\nx 1\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    tmp = tempfile.TemporaryDirectory()
    rules = Path(tmp.name) / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n")
    sent: list[float] = []

    class Sink:
        def put(self, alerts: object) -> None:
            sent.append(time.monotonic())

    store, reg = MemoryStore(), CollectorRegistry()
    mgr = RuleManager(
        [str(rules)],
        Engine(store, registry=reg),
        store,
        Sink(),
        registry=reg,
        options=RuleOptions(interval_s=30),
    )
    job = StaticJob.model_validate({"name": "t", "targets": [f"127.0.0.1:{server.server_address[1]}"]})
    cfg = CollectorConfig(interval_s=scrape_interval_s, timeout_s=scrape_interval_s / 2, jobs=[job])
    scraper = ScrapeManager(cfg, store, None, registry=CollectorRegistry(), on_commit=mgr.notify)
    await mgr.start()
    await scraper.start()
    try:
        deadline = time.monotonic() + 10
        while not scraper.targets() or scraper.targets()[0].health != "up":
            if time.monotonic() > deadline:
                raise SystemExit("the target was never scraped")
            await asyncio.sleep(0.02)
        server.shutdown()
        server.server_close()
        down_at = time.monotonic()
        while not sent:
            if time.monotonic() > down_at + 60:
                raise SystemExit("no alert within 60 s")
            await asyncio.sleep(0.01)
        return sent[0] - down_at
    finally:
        await scraper.stop()
        await mgr.stop()


def _append_cost(n_series: int, scrapes: int, tee: bool) -> float:
    """us per sample of parse + cache + append (one thread), store alone or teed into a window."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _targets import make_body

    from collector.cache import ScrapeCache
    from collector.exposition import parse
    from collector.settings import ScrapeSettings
    from metrics_store.config import EmbeddedStoreConfig
    from metrics_store.embedded.store import EmbeddedStore

    settings = ScrapeSettings("bench", 1.0, 1.0, 1 << 30, 0, 0, 0, 0, False, True, ())
    bodies = [make_body(0, n_series, s) for s in range(20)]
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedStore(
            Path(tmp), EmbeddedStoreConfig(), registry=CollectorRegistry(), background=False
        )
        window = RecentWindow(15 * 60_000, started_ms=0)
        appender = WindowTee(store, window) if tee else store
        cache = ScrapeCache(appender, (("instance", "t:1"), ("job", "bench")), settings)
        cache.ingest(parse(bodies[0]), 0, 0.0, 0.0)
        total, n = 0.0, 0
        for i in range(scrapes):
            body = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            exp = parse(body)
            cache.ingest(exp, (i + 1) * 15_000, 0.0, 0.0)
            total += time.perf_counter() - t0
            n += len(exp.samples)
            if i % 50 == 49:
                store.checkpoint()  # as the background thread would; not timed
        if tee:
            print(
                f"  window after {scrapes} scrapes: {window.samples()} samples, {window.live_series()} series"
            )
        store.close()
    return total / n * 1e6


def _service(store: object, tmp: Path, rules: Path, clock: list[float], window: bool) -> object:
    from paramedic.alerting import AlertingService

    cfg = RulesConfig(files=[str(rules)], recent_window=RecentWindowConfig(enabled=window))
    return AlertingService(
        cfg,
        None,
        base_dir=tmp,
        store=store,  # type: ignore[arg-type]
        patterns=None,
        server_url="http://127.0.0.1:9300",
        registry=CollectorRegistry(),
        clock=lambda: clock[0],
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--per-metric", type=int, default=1000, help="series per metric name")
    ap.add_argument("--store", choices=["memory", "embedded"], default="embedded")
    ap.add_argument(
        "--no-window",
        action="store_true",
        help="query the store directly (no RecentWindow), as the service does",
    )
    ap.add_argument("--service", action="store_true", help="build the rule engine as the server does")
    ap.add_argument("--append-cost", action="store_true", help="scrape hot path: store vs store + window")
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--latency", action="store_true", help="measure detection latency instead")
    ap.add_argument("--scrape-interval-s", type=float, default=1.0)
    args = ap.parse_args()
    if args.latency:
        import asyncio

        runs = [asyncio.run(_latency(args.scrape_interval_s)) for _ in range(3)]
        print(
            f"detection latency (up == 0, for: 0s, scrape every {args.scrape_interval_s:g}s,"
            " rule interval 30s): " + ", ".join(f"{r:.2f}s" for r in runs)
        )
        return
    if args.append_cost:
        n = 2000 if args.series == 100_000 else args.series
        for tee in (False, True, False, True):
            cost = _append_cost(n, args.scrapes, tee)
            print(
                f"{'store + window' if tee else 'store alone   '}: {cost:.2f} us/sample ({n} series/scrape)"
            )
        return
    n_metrics = max(1, args.series // args.per_metric)
    metrics = [f"bench_metric_{k}" + ("_total" if k % 2 else "") for k in range(n_metrics)]
    tmp = tempfile.TemporaryDirectory()
    reg = CollectorRegistry()
    store: object
    if args.store == "embedded":
        from metrics_store.embedded.store import EmbeddedStore

        store = EmbeddedStore(Path(tmp.name), registry=reg, background=False)
    else:
        store = MemoryStore()
    now_s = 1_700_000_000
    times = [(now_s - 20 * 60 + 15 * i) * 1000 for i in range(81)]
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    window = RecentWindow(retention_ms=20 * 60_000)
    sink: Any = store if args.no_window else FanOut(store, window)
    clock_s = [float(now_s - 20 * 60)]
    svc: Any = None
    if args.service:
        rules = Path(tmp.name) / "rules.yml"
        rules.write_text(_rules(args.rules, metrics))
        svc = _service(store, Path(tmp.name), rules, clock_s, window=not args.no_window)
        sink = svc.appender
    refs = []
    for m in metrics:
        for s in range(args.per_metric):
            labels = {"__name__": m, "app": f"app{s % 50}", "instance": f"i{s}", "job": "bench"}
            refs.append(sink.series_ref(labels_from(labels)))
    is_counter = np.array([m.endswith("_total") for m in metrics for _ in range(args.per_metric)])
    level = np.zeros(len(refs))
    for t in times:
        step = rng.random(len(refs))
        level = np.where(is_counter, level + step, step)
        sink.append(refs, [t] * len(refs), level.tolist())
    print(
        f"loaded {len(refs)} series x {len(times)} samples in {time.perf_counter() - t0:.1f}s ({args.store})"
    )
    rules = Path(tmp.name) / "rules.yml"
    rules.write_text(_rules(args.rules, metrics))
    cache = CycleCache(store if args.no_window else WindowedQuerier(window, store), prefetch_ms=10 * 60_000)
    if svc is not None:
        mgr = svc.rules
        cache = mgr._cycle_cache or CycleCache(store)  # only for the hit counters below
    else:
        engine = Engine(cache, registry=reg)
        mgr = RuleManager(
            [str(rules)], engine, None, None, lambda: clock_s[0], reg, options=RuleOptions(cycle_cache=cache)
        )
    durations = []
    for c in range(args.cycles):
        clock_s[0] = now_s - 15 * (args.cycles - 1 - c)
        t1 = time.perf_counter()
        n = mgr.eval_due()
        durations.append(time.perf_counter() - t1)
        active = sum(len(ar.active) for g in mgr.groups for ar in g.alerting_rules())
        print(
            f"cycle {c}: {n} groups, {args.rules} rules in {durations[-1]:.3f}s "
            f"(pending/firing alerts: {active})"
        )
    print(
        f"rules={args.rules} series={len(refs)}: median {statistics.median(durations):.3f}s per cycle "
        f"(select cache hits {cache.hits}, misses {cache.misses})"
    )


if __name__ == "__main__":
    main()
