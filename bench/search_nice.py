"""What the search workers' CPU priority buys (issue 18): the query API's latency while a burst of log
searches runs, and a lone search's wall time, with the workers at each setting.

    .venv/bin/python bench/search_nice.py [--rounds 3] [--queries 200] [--burst 4] [--keep DIR]

Starts a real ``paramedic serve`` on loopback (``tests/support/hostile.py``: a static exporter with a known
value) over a 1M-line search index built as ``bench/logs.py`` builds it (``timeout AND upstream`` matches
150,428 lines), then, for each setting in turn within every round (so the machine's other load hits the
settings alike), sets every thread of every search worker process (``sched_setscheduler`` +
``setpriority`` from outside, as the worker's own renice does) and measures:

* ``lone search``: ``--searches`` two-term searches one after another (``httpx``, limit 100, as
  ``bench/logs.py``): p50 wall;
* ``quiet query``: ``--queries`` instant queries of the probe series (one series), one after another, each
  answer checked: p50/p99 wall (nothing else running; the same for every setting, a baseline);
* ``query under burst``: the same queries while ``--burst`` clients (in a child process, so they do not hold
  this process' GIL) search without pause (two workers busy: both cores): p50/p99 wall, and the searches the
  burst completed per second.

p99 is the nearest rank. Every search's total must equal the first one's (the burst's too).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_costs import build
from tests.support.hostile import PROBE_METRIC, PROBE_VALUE, running_target

SEARCH: dict[str, str | int] = {"q": "timeout AND upstream", "limit": 100}
# name -> (scheduling policy, nice)
SETTINGS: dict[str, tuple[int, int]] = {
    "nice 10": (os.SCHED_OTHER, 10),
    "nice 5": (os.SCHED_OTHER, 5),
    "nice 0": (os.SCHED_OTHER, 0),
    "batch, nice 0": (os.SCHED_BATCH, 0),
    "batch, nice 5": (os.SCHED_BATCH, 5),
}


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def search_workers(server: int) -> list[int]:
    """The server's search worker processes: its ``spawn`` children other than the index process."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = stat.read_text().rsplit(")", 1)[1].split()[1]
            comm = (stat.parent / "comm").read_text().strip()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == str(server) and comm != "paramedic-index" and b"spawn_main" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


def apply(pids: list[int], policy: int, nice: int) -> None:
    """Every thread of ``pids`` to ``policy`` at ``nice``."""
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            tid = int(task.name)
            os.sched_setscheduler(tid, policy, os.sched_param(0))
            os.setpriority(os.PRIO_PROCESS, tid, nice)


def _burst(base: str, clients: int, stop: Event, out: Connection) -> None:
    """In a child process: ``clients`` threads search until ``stop``; sends (searches done, totals seen)."""
    import threading

    done: list[int] = []
    totals: set[int] = set()
    lock = threading.Lock()

    def loop() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                total = client.get("/api/v1/logs/search", params=SEARCH).json()["data"]["total"]
                with lock:
                    done.append(1)
                    totals.add(total)
                    if len(done) == clients:
                        out.send("up")

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.send((len(done), sorted(totals)))


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


class Bench:
    def __init__(self, base: str, server: int, a: argparse.Namespace) -> None:
        self.base, self.server, self.a = base, server, a
        self.client = httpx.Client(base_url=base, timeout=30)
        self.total = self.search()

    def search(self) -> int:
        total: int = self.client.get("/api/v1/logs/search", params=SEARCH).json()["data"]["total"]
        return total

    def checked_search(self) -> None:
        if (total := self.search()) != self.total:
            raise SystemExit(f"search total {total} != {self.total}")

    def query(self) -> None:
        r = self.client.get("/api/v1/query", params={"query": PROBE_METRIC})
        if float(r.json()["data"]["result"][0]["value"][1]) != PROBE_VALUE:
            raise SystemExit(f"wrong answer: {r.text}")

    def under_burst(self) -> tuple[list[float], float]:
        ctx = multiprocessing.get_context("spawn")
        stop, (mine, theirs) = ctx.Event(), ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_burst, args=(self.base, self.a.burst, stop, theirs))
        proc.start()
        if not mine.poll(60) or mine.recv() != "up":  # the burst searches before the timed queries start
            raise SystemExit("the burst did not start")
        t = time.perf_counter()
        lat = timed(self.query, self.a.queries)
        elapsed = time.perf_counter() - t
        stop.set()
        done, totals = mine.recv()
        proc.join()
        if totals != [self.total]:
            raise SystemExit(f"burst search totals {totals} != {self.total}")
        return lat, done / elapsed

    def round(self, figures: Figures) -> None:
        workers = search_workers(self.server)
        for name, (policy, nice) in SETTINGS.items():
            apply(workers, policy, nice)
            fig = figures[name]
            timed(self.checked_search, 2)
            fig["lone search"].append(timed(self.checked_search, self.a.searches))
            fig["quiet query"].append(timed(self.query, self.a.queries))
            lat, rate = self.under_burst()
            fig["query under burst"].append(lat)
            fig["burst searches/s"].append([rate])


Figures = dict[str, dict[str, list[list[float]]]]  # setting -> phase -> one list of samples per round


def _spread(rounds: list[list[float]], q: float) -> str:
    """The percentile ``q`` of every round's samples together, and its range over the rounds."""
    each = [percentile(r, q) for r in rounds]
    return f"{percentile([x for r in rounds for x in r], q):7.2f} ({min(each):.1f}-{max(each):.1f})"


def report(figures: Figures) -> None:
    print("ms, all rounds together (range of the per-round figure); burst: searches/s")
    print(
        f"{'setting':14s} {'lone search p50':>22s} {'quiet query p50':>22s} {'quiet p99':>22s} "
        f"{'burst query p50':>22s} {'burst p99':>22s} {'burst rate':>22s}"
    )
    for name, fig in figures.items():
        quiet, burst = fig["quiet query"], fig["query under burst"]
        print(
            f"{name:14s} {_spread(fig['lone search'], 50):>22s} {_spread(quiet, 50):>22s} "
            f"{_spread(quiet, 99):>22s} {_spread(burst, 50):>22s} {_spread(burst, 99):>22s} "
            f"{_spread(fig['burst searches/s'], 50):>22s}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200, help="instant queries per phase, setting and round")
    ap.add_argument("--searches", type=int, default=21, help="lone searches per setting and round")
    ap.add_argument("--burst", type=int, default=4, help="clients searching without pause in the burst")
    ap.add_argument("--keep", type=Path, help="build the index here (once) and reuse it in later runs")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="search-nice-") as tmp_name:
        tmp = Path(tmp_name)
        index = (a.keep or tmp) / "data" / "logs" / "search"
        if not index.exists():
            build(index, 1_000_000)
        if a.keep:
            (tmp / "data" / "logs").mkdir(parents=True)
            (tmp / "data" / "logs" / "search").symlink_to(index.resolve())
        with running_target(tmp, anonymous_read=True) as target:
            bench = Bench(target.base_url, target.proc.pid, a)
            print(f"two-term total {bench.total:,}; search workers {search_workers(target.proc.pid)}")
            phases = ("lone search", "quiet query", "query under burst", "burst searches/s")
            figures: Figures = {n: {k: [] for k in phases} for n in SETTINGS}
            for r in range(a.rounds):
                now = time.strftime("%H:%M:%S", time.gmtime())
                print(f"round {r + 1}/{a.rounds} {now} UTC, load {os.getloadavg()[0]:.1f}", flush=True)
                bench.round(figures)
            report(figures)


if __name__ == "__main__":
    main()
