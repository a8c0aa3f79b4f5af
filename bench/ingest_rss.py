"""Resident memory per active series of ``paramedic serve`` over a whole window, not at one instant.

``bench/ingest.py`` reads RSS once, at the end of its window: with a fold every ~20 s that figure moves with
where the end falls relative to a fold (issue 18: 1,734 to 3,738 B per series for the same code). This runs
the same server and targets (WAL folded as shipped, or ``--nofold``), and samples RSS every
``--every-s`` over ``--seconds`` after ``--warmup-s``; it prints the minimum, mean, 90th percentile and
maximum of (RSS - RSS just before the first sample) / active series, and how many folds the window held.

Old code against new: ``PYTHONPATH=/tmp/old .venv/bin/python bench/ingest_rss.py``, alternated run by run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ingest import _baseline, _paramedic, _targets, counter_sum, free_ports, rss_bytes, wait_ready

FOLDS = ("paramedic_store_checkpoints_total",)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup-s", type=float, default=10.0)
    ap.add_argument("--every-s", type=float, default=0.25)
    ap.add_argument("--nofold", action="store_true", help="folding put off past the run")
    a = ap.parse_args()
    ports = free_ports(a.targets + 1)
    addrs = [f"127.0.0.1:{p}" for p in ports[:-1]]
    active = a.targets * a.series
    with tempfile.TemporaryDirectory(prefix="bench-ingest-rss-") as tmp:
        system = _paramedic(Path(tmp), ports[-1], addrs, 1.0, fold=not a.nofold)
        targets = _targets(a.series, ports[:-1])
        log = Path(tmp) / "server.log"
        with log.open("wb") as lf:
            proc = subprocess.Popen(
                system.argv, stdout=lf, stderr=subprocess.STDOUT, cwd=system.data_dir.parent
            )
            try:
                wait_ready(system.ready_url, proc)
                _, rss0 = _baseline(system, proc.pid)
                time.sleep(a.warmup_s)  # benchmark warm-up (not a test)
                folds0 = counter_sum(system.metrics_url, FOLDS) or 0.0
                s0 = counter_sum(system.metrics_url, system.counters) or 0.0
                per_series: list[float] = []
                end = time.monotonic() + a.seconds
                while time.monotonic() < end:
                    per_series.append((rss_bytes(proc.pid) - rss0) / active)
                    time.sleep(a.every_s)  # sampling period
                s1 = counter_sum(system.metrics_url, system.counters) or 0.0
                folds = (counter_sum(system.metrics_url, FOLDS) or 0.0) - folds0
            finally:
                proc.terminate()
                proc.wait(300)
                targets.stdin.close()  # type: ignore[union-attr]
                targets.wait(10)
    q = statistics.quantiles(per_series, n=10)
    print(
        f"{system.name}: {(s1 - s0) / a.seconds:,.0f} samples/s, {folds:.0f} folds in the window, "
        f"{len(per_series)} RSS samples; RSS - baseline per series (B): min {min(per_series):,.0f} "
        f"mean {statistics.fmean(per_series):,.0f} p90 {q[-1]:,.0f} max {max(per_series):,.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
