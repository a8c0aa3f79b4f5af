"""Per-thread CPU of ``paramedic serve`` under ``bench/ingest.py``'s load (issue 18, ingest CPU).

Starts the bench's synthetic targets and ``paramedic serve`` with the bench's config (WAL folded as shipped),
waits ``--warmup-s``, then reads every thread's utime + stime from ``/proc/PID/task/*/stat`` over
``--seconds`` and divides by the samples appended in that window. Thread names come from the server itself:
this script re-runs itself inside the server process (``--child``), where it writes the map of native thread
ids to Python thread names, and how many scrapes took ``ScrapeCache``'s steady-state path, every 2 s.

Old code against new: ``PYTHONPATH=/tmp/old .venv/bin/python bench/ingest_threads.py``, alternated run by run.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ingest import CLK_TCK, counter_sum, free_ports, wait_ready

APPENDED = ("paramedic_scrape_samples_appended_total",)


def child(out: Path, argv: list[str]) -> None:
    """Inside the server process: count steady-state scrapes, publish thread names, then run the CLI."""
    import collector.cache as cache  # here: the child's PYTHONPATH picks the code under test

    counts: collections.Counter[str] = collections.Counter()
    steady = cache.ScrapeCache._steady_state

    def counted(self: cache.ScrapeCache, exposition: object) -> object:
        first = not len(self)  # no series cached yet: the target's first successful scrape
        result = steady(self, exposition)  # type: ignore[arg-type]
        counts["steady" if result is not None else "general, first" if first else "general, cached"] += 1
        return result

    cache.ScrapeCache._steady_state = counted  # type: ignore[method-assign,assignment]

    def publish() -> None:
        while True:
            time.sleep(2)  # a benchmark helper's publishing period, not a test wait
            names = {t.native_id: t.name for t in threading.enumerate()}
            tmp = out.parent / (out.name + ".tmp")
            tmp.write_text(json.dumps({"paths": counts, "names": names}))
            tmp.replace(out)

    threading.Thread(target=publish, daemon=True, name="bench-publish").start()
    from paramedic.cli import main

    sys.argv = ["paramedic", *argv]
    main()


def thread_cpu(pid: int) -> dict[int, float]:
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def run(series: int, targets: int, warmup_s: float, seconds: float) -> None:
    ports = free_ports(targets + 1)
    here = Path(__file__).resolve().parent
    tp = subprocess.Popen(
        [sys.executable, str(here / "_targets.py"), "--series", str(series), *map(str, ports[1:])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert tp.stdout is not None and tp.stdin is not None
    tp.stdout.readline()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-threads-") as tmp:
        root = Path(tmp)
        addrs = ", ".join(f'"127.0.0.1:{p}"' for p in ports[1:])
        (root / "paramedic.yaml").write_text(
            "server: {listen_port: %d, auth: {anonymous_read: true}}\n"
            "collector:\n  interval_s: 1\n  timeout_s: 1\n  jobs:\n"
            "    - name: bench\n      type: static\n      targets: [%s]\n"
            "metrics_store: {type: embedded, path: data}\n" % (ports[0], addrs)
        )
        state = root / "threads.json"
        argv = [
            sys.executable,
            __file__,
            "--child",
            str(state),
            "serve",
            "--config",
            str(root / "paramedic.yaml"),
        ]
        with (root / "log").open("wb") as log:
            proc = subprocess.Popen(argv, cwd=root, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{ports[0]}"
            try:
                wait_ready(url + "/-/ready", proc)
            except (RuntimeError, TimeoutError):
                print((root / "log").read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
            time.sleep(warmup_s)  # benchmark warm-up, not a test wait
            cpu0, s0 = thread_cpu(proc.pid), counter_sum(url + "/metrics", APPENDED) or 0.0
            paths0 = json.loads(state.read_text())["paths"]
            time.sleep(seconds)
            cpu1, s1 = thread_cpu(proc.pid), counter_sum(url + "/metrics", APPENDED) or 0.0
            published = json.loads(state.read_text())
        finally:
            proc.terminate()
            proc.wait(60)
            tp.stdin.close()
            tp.wait(10)
    report(cpu0, cpu1, s1 - s0, seconds, published, paths0)


def report(
    cpu0: dict[int, float],
    cpu1: dict[int, float],
    samples: float,
    seconds: float,
    published: dict,
    paths0: dict,
) -> None:
    names = {int(k): v for k, v in published["names"].items()}
    rows: dict[str, float] = {}
    for tid, cpu in cpu1.items():
        name = names.get(tid, "unnamed (DuckDB's own threads)")
        name = "scrape threads" if name.startswith("scrape") else name
        rows[name] = rows.get(name, 0.0) + cpu - cpu0.get(tid, 0.0)
    total = sum(rows.values())
    print(
        f"{samples:,.0f} samples in {seconds:g} s; CPU {total:.2f} s = {total / samples * 1e6:.3f} µs/sample"
    )
    for name, cpu in sorted(rows.items(), key=lambda r: -r[1]):
        if cpu > 0:
            print(f"  {name:34s} {cpu:6.2f} s  {cpu / samples * 1e6:.3f} µs/sample")
    paths = {k: v - paths0.get(k, 0) for k, v in published["paths"].items()}
    print(f"scrapes in the window by ScrapeCache path: {paths}")


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.path.remove(
            str(Path(__file__).resolve().parent)
        )  # bench/*.py must not shadow the server's imports
        child(Path(sys.argv[2]), sys.argv[3:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup-s", type=float, default=10.0)
    a = ap.parse_args()
    run(a.series, a.targets, a.warmup_s, a.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
