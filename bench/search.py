"""Embedded search store benchmark: index rate, needle and two-term search p50 beside ``grep -c``.

.venv/bin/python bench/search.py [--lines 300000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search.tantivy_store import TantivyStore

WORDS = [
    "GET",
    "POST",
    "PUT",
    "/orders",
    "/cart",
    "/login",
    "ok",
    "failed",
    "timeout",
    "retry",
    "upstream",
    "backend",
    "cache",
    "miss",
    "hit",
    "user",
]


def lines(n: int) -> list[str]:
    rnd = random.Random(1)
    out = []
    for i in range(n):
        words = " ".join(rnd.choice(WORDS) for _ in range(8))
        out.append(f"req-{i} {words} status={rnd.choice([200, 200, 404, 500])} took {rnd.randint(1, 900)}ms")
    out[n // 2] = out[n // 2] + " needle-xyzzy"
    return out


def p50(fn: object, runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=5000)
    args = ap.parse_args()
    text = lines(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "logs.txt"
        path.write_text("\n".join(text) + "\n")
        store = TantivyStore(Path(tmp) / "idx", registry=CollectorRegistry())
        t0 = 1_714_564_800 * 10**9
        recs = [
            LogRecord(f"{i:012d}", t0 + i * 1000, m, {"app": "bench", "level": "info"})
            for i, m in enumerate(text)
        ]
        start = time.perf_counter()
        for i in range(0, len(recs), args.batch):
            store.write(recs[i : i + args.batch])
        secs = time.perf_counter() - start
        print(
            f"indexed {len(recs)} lines in {secs:.2f}s: {len(recs) / secs:,.0f} lines/s (batch {args.batch})"
        )
        cases = [("needle", '"needle-xyzzy"', "needle-xyzzy"), ("two-term", "timeout AND upstream", None)]
        for name, q, grep_pat in cases:
            n = store.search(q, None, None, 100).total
            s = p50(lambda q=q: store.search(q, None, None, 100))
            if grep_pat is not None:
                cmd = ["grep", "-c", grep_pat, str(path)]
            else:
                cmd = ["sh", "-c", f"grep timeout {path} | grep -c upstream"]
            g = p50(lambda cmd=cmd: subprocess.run(cmd, capture_output=True, check=False), runs=5)
            print(
                f"{name:8s} q={q!r}: {n} hits, search p50 {s * 1000:.2f} ms, grep -c p50 {g * 1000:.1f} ms, "
                f"{g / s:.0f}x faster"
            )
        store.close()


if __name__ == "__main__":
    main()
