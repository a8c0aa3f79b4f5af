"""Scrape-engine benchmark: the collector alone (fetch + parse + series cache + relabel), no store.

Starts bench/_targets.py (N exporters x S series, a separate process) and runs a ScrapeManager in this process
with a counting appender for --seconds. Prints samples/s, CPU-seconds per million samples (this process only),
mean scrape duration and the schedule lag (p50/p99 from paramedic_scrape_start_lag_seconds).

    .venv/bin/python bench/scrape.py [--targets 50] [--series 2000] [--interval-s 1] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from collector.config import CollectorConfig, RelabelConfig, StaticJob
from collector.manager import ScrapeManager
from metrics_store.model import Labels

REPO = Path(__file__).resolve().parent.parent


class CountingAppender:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refs: dict[Labels, int] = {}
        self.samples = 0

    def series_ref(self, labels: Labels) -> int:
        with self.lock:
            return self.refs.setdefault(labels, len(self.refs))

    def append(self, refs: Sequence[int], timestamps_ms: Sequence[int], values: Sequence[float]) -> None:
        with self.lock:
            self.samples += len(refs)


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def lag_buckets(registry: CollectorRegistry) -> dict[float, float]:
    out: dict[float, float] = {}
    for metric in registry.collect():
        if metric.name == "paramedic_scrape_start_lag_seconds":
            for s in metric.samples:
                if s.name.endswith("_bucket"):
                    out[float(s.labels["le"])] = s.value
    return out


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound of the ``q`` quantile of the observations made between the two snapshots."""
    buckets = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    total = buckets[-1][1] if buckets else 0
    for le, count in buckets:
        if count >= q * total:
            return le
    return float("inf")


async def run(args: argparse.Namespace) -> None:
    socks = [socket.socket() for _ in range(args.targets)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "_targets.py"), "--series", str(args.series), *map(str, ports)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()  # "ready"
    # the exporter process prints a traceback per reset connection at shutdown: silence it

    job = StaticJob(
        name="bench",
        targets=[f"127.0.0.1:{p}" for p in ports],
        interval_s=args.interval_s,
        timeout_s=args.interval_s,
        metric_relabel_configs=[RelabelConfig(action="drop", source_labels=["__name__"], regex="go_.*")],
    )
    appender = CountingAppender()
    registry = CollectorRegistry()
    mgr = ScrapeManager(
        CollectorConfig(jobs=[job]), appender, None, registry=registry, max_workers=args.workers
    )
    await mgr.start()
    try:
        await asyncio.sleep(
            args.interval_s * 2
        )  # benchmark warm-up (not a test): first scrapes fill the cache
        c0, t0, s0, lag0 = cpu_s(), time.monotonic(), appender.samples, lag_buckets(registry)
        await asyncio.sleep(args.seconds)
        c1, t1, s1, lag1 = cpu_s(), time.monotonic(), appender.samples, lag_buckets(registry)
        statuses = mgr.targets()
    finally:
        await mgr.stop()
        proc.stdin.close()
        proc.wait(10)
    samples = s1 - s0
    dur_sum = registry.get_sample_value("paramedic_scrape_duration_seconds_sum", {"job": "bench"}) or 0
    dur_n = registry.get_sample_value("paramedic_scrape_duration_seconds_count", {"job": "bench"}) or 1
    print(f"targets={args.targets} series/target={args.series} interval={args.interval_s}s")
    print(f"samples/s                 {samples / (t1 - t0):,.0f}")
    print(f"CPU-s per million samples {(c1 - c0) / (samples / 1e6):.2f}")
    print(f"CPU utilisation           {(c1 - c0) / (t1 - t0) * 100:.0f}% of one core")
    print(f"mean scrape duration      {dur_sum / dur_n * 1000:.1f} ms")
    p50, p99 = quantile(lag0, lag1, 0.5) * 1000, quantile(lag0, lag1, 0.99) * 1000
    print(f"start lag p50 <= {p50:.1f} ms, p99 <= {p99:.1f} ms")
    print(f"targets up                {sum(t.health == 'up' for t in statuses)}/{len(statuses)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--interval-s", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    asyncio.run(run(ap.parse_args()))
