"""The cyclic GC's pauses inside ``paramedic serve``: collections by generation and the longest one.

A full (generation 2) collection walks every tracked object of the process and holds the GIL, so the event
loop stalls for its whole length; ``paramedic serve`` calls ``gc.freeze()`` once start-up is done (the
store, the rules, the sources) so the start-up heap leaves the generations, and raises the gen-0 threshold
(``paramedic/assembly.py``). This bench starts a real serve on synthetic targets (``bench/_targets.py``,
``--targets`` x ``--series`` at 1 s) with the ``local`` and ``paramedic`` rule packs, drives queries at it
for ``--seconds`` after ``--warmup-s``, and reports, from a ``gc.callbacks`` timer inside the server (this
script re-runs itself there, ``--child``), each generation's collections, their total and longest thread
CPU and wall time, and how many objects ``gc.freeze()`` moved out.

Arms (``--arm``, alternate them run by run; the machine is shared, so compare the thread-CPU figures):

* ``shipped``: the server as it is.
* ``nofreeze``: ``gc.freeze`` and ``gc.set_threshold`` made no-ops in the server, i.e. the GC as before them.
* ``threshold``: only ``gc.set_threshold`` applied (``gc.freeze`` a no-op): what the thresholds alone do.
* ``freeze``: only ``gc.freeze`` applied (``gc.set_threshold`` a no-op): what the freeze alone does.
* ``collect``: a full ``gc.collect()`` just before the freeze, reporting what it found unreachable: the
  start-up garbage that the plain freeze keeps for the life of the process.

``.venv/bin/python bench/gc_pause.py --arm shipped``; old code against new: ``PYTHONPATH=/tmp/old ...``.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from ingest import serve_on_targets

QUERIES = (
    "/api/v1/query?query=sum by (app) (rate(bench_requests_total[1m]))",
    "/api/v1/query?query=up",
    "/api/v1/query_range?query=avg by (app) (bench_latency_seconds)&step=15&start={start}&end={end}",
    '/api/v1/series?match[]=bench_memory_bytes{{app="app1"}}',
    "/metrics",
)


def child(out: Path, arm: str, argv: list[str]) -> None:
    """Inside the server process: time every collection, apply the arm, then run the CLI."""
    stats: dict[str, Any] = {"frozen": None, "startup_garbage": None, "events": []}
    events: collections.deque[tuple[float, int, float, float]] = collections.deque(maxlen=50_000)
    started: dict[int, tuple[float, float]] = {}

    def timer(phase: str, info: dict[str, int]) -> None:
        tid = threading.get_ident()
        if phase == "start":
            started[tid] = (time.thread_time(), time.perf_counter())
            return
        cpu0, wall0 = started.pop(tid, (time.thread_time(), time.perf_counter()))
        cpu_ms, wall_ms = (time.thread_time() - cpu0) * 1e3, (time.perf_counter() - wall0) * 1e3
        events.append((time.time(), info["generation"], cpu_ms, wall_ms))

    gc.callbacks.append(timer)
    freeze = gc.freeze
    if arm in ("nofreeze", "freeze"):
        gc.set_threshold = lambda *_: None
    if arm in ("nofreeze", "threshold"):
        gc.freeze = lambda: None
    else:

        def counted_freeze() -> None:
            if arm == "collect":
                stats["startup_garbage"] = gc.collect()
            freeze()
            stats["frozen"] = gc.get_freeze_count()

        gc.freeze = counted_freeze

    def publish() -> None:
        while True:
            time.sleep(1)  # a benchmark helper's publishing period, not a test wait
            tmp = out.parent / (out.name + ".tmp")
            tmp.write_text(json.dumps({**stats, "events": list(events)}))
            tmp.replace(out)

    threading.Thread(target=publish, daemon=True, name="bench-publish").start()
    from paramedic.cli import main

    sys.argv = ["paramedic", *argv]
    main()


def drive(url: str, seconds: float) -> int:
    """Query the server back to back for ``seconds``; returns how many requests answered 200."""
    done = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < deadline:
            for q in QUERIES:
                now = time.time()
                done += client.get(q.format(start=now - 600, end=now)).status_code == 200
    return done


def run(opts: argparse.Namespace) -> dict[str, Any]:
    rules = "rules: {packs: [local, paramedic], evaluation_interval_s: 5}\n"

    def argv(root: Path) -> list[str]:
        state = root / "gc.json"
        return [
            sys.executable,
            __file__,
            "--child",
            str(state),
            opts.arm,
            "serve",
            "--config",
            "paramedic.yaml",
        ]

    with serve_on_targets(opts.series, opts.targets, "bench-gc-pause-", argv, rules) as (root, url, _proc):
        time.sleep(opts.warmup_s)  # benchmark warm-up, not a test wait
        t0 = time.time()
        requests = drive(url, opts.seconds)
        t1 = time.time()
        time.sleep(1.5)  # one more publishing period of the child
        after = json.loads((root / "gc.json").read_text())
    window: dict[str, dict[str, float]] = {}
    for gen in (0, 1, 2):
        got = [(cpu, wall) for t, g, cpu, wall in after["events"] if g == gen and t0 <= t <= t1]
        window[f"gen{gen}"] = {
            "runs": len(got),
            "cpu_ms": round(sum(c for c, _ in got), 1),
            "max_cpu_ms": round(max((c for c, _ in got), default=0.0), 1),
            "max_wall_ms": round(max((w for _, w in got), default=0.0), 1),
        }
    return {
        "arm": opts.arm,
        "requests": requests,
        "frozen": after["frozen"],
        "startup_garbage": after["startup_garbage"],
        "window": window,
    }


def main() -> int:
    if len(sys.argv) > 3 and sys.argv[1] == "--child":
        sys.path.remove(str(Path(__file__).resolve().parent))  # bench/*.py must not shadow the server's
        child(Path(sys.argv[2]), sys.argv[3], sys.argv[4:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--arm", choices=("shipped", "nofreeze", "threshold", "freeze", "collect"), default="shipped"
    )
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup-s", type=float, default=10.0)
    print(json.dumps(run(ap.parse_args())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
