"""Embedded search store benchmark: index build time and bytes, needle and two-term search p50 beside
``grep -c`` (warm page cache); every search counts its matches, and the count must equal ``grep -c``'s.

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
        store.close()  # the writer's merges finish: the index is complete
        secs = time.perf_counter() - start
        index_bytes = sum(f.stat().st_size for f in (Path(tmp) / "idx").rglob("*") if f.is_file())
        print(
            f"indexed {len(recs)} lines in {secs:.2f}s (writes and merges): {len(recs) / secs:,.0f} lines/s "
            f"(batch {args.batch}); index {index_bytes / 1e6:.1f} MB, text {path.stat().st_size / 1e6:.1f} MB"
        )
        cases = [
            ("needle", '"needle-xyzzy"', ["grep", "-c", "needle-xyzzy", str(path)]),
            ("two-term", "timeout AND upstream", ["sh", "-c", f"grep timeout {path} | grep -c upstream"]),
        ]
        for name, q, cmd in cases:
            n = store.search(q, None, None, 100).total
            s = p50(lambda q=q: store.search(q, None, None, 100))
            grep_out = subprocess.run(cmd, capture_output=True, check=False, text=True).stdout.strip()
            g = p50(lambda cmd=cmd: subprocess.run(cmd, capture_output=True, check=False), runs=5)
            counts = "counts equal" if str(n) == grep_out else f"COUNT MISMATCH: grep -c says {grep_out}"
            print(
                f"{name:8s} q={q!r}: {n} hits, search p50 {s * 1000:.2f} ms, grep -c p50 {g * 1000:.1f} ms "
                f"(warm page cache), {g / s:.1f}x faster, {counts}"
            )


if __name__ == "__main__":
    main()
