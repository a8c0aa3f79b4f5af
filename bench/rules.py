"""Rule evaluation speed: N rules over M series, time per evaluation cycle (goal: 1k rules over 100k series
in < 1 s). Rules are realistic pack-style alerts: warning/critical pairs of `E > N` over plain gauges,
rates, *_over_time and sum by (app); series are scraped every 15 s for the last 20 minutes.

.venv/bin/python bench/rules.py [--series 100000] [--rules 1000] [--cycles 5] [--store memory|embedded]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from alerting.rules import CycleCache, RuleManager
from alerting.rules._window import FanOut, RecentWindow, WindowedQuerier
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
    args = ap.parse_args()
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
    sink = store if args.no_window else FanOut(store, window)
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
    engine = Engine(cache, registry=reg)
    clock_s = [float(now_s - 15 * args.cycles)]
    mgr = RuleManager([str(rules)], engine, None, None, lambda: clock_s[0], reg, cycle_cache=cache)
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
