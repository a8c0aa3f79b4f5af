"""Per-thread CPU of ``paramedic serve`` under ``bench/ingest.py``'s load (issue 18, ingest CPU).

Starts the bench's synthetic targets and ``paramedic serve`` with the bench's config (WAL folded as shipped),
waits ``--warmup-s``, then reads every thread's utime + stime from ``/proc/PID/task/*/stat`` over
``--seconds`` and divides by the samples appended in that window. Thread names come from the server itself:
this script re-runs itself inside the server process (``--child``), where it writes the map of native thread
ids to Python thread names, and how many scrapes took ``ScrapeCache``'s steady-state path, every 2 s.

Per thread it prints user and system CPU apart, and the voluntary and involuntary context switches per scrape
(``/proc/PID/task/TID/status``): a thread that waits for the GIL many times per scrape shows up there.
``--py-spy OUT`` also records the server with py-spy over the window (``--py-spy-bin``, 50 Hz, ``--gil``:
only samples holding the GIL, or ``--idle``), written as py-spy's ``raw`` (collapsed stacks) format; the
CPU figures of such a run include py-spy's pauses, so take them from a run without it. Experiments on the
server's settings (not defaults): ``--switch-interval S`` (``sys.setswitchinterval``), ``--scrape-workers N``
(the scrape thread pool's size), ``--fetch-threads N`` (``ScrapeManager(max_fetch_threads=N)``; 0: plain
targets fetched by aiohttp on the loop, as before stop 34), ``--inline-ingest`` (parse + ingest on the event
loop's thread instead of the pool: what the hand-offs and the GIL sharing cost; not a shippable setting, it
blocks the loop), ``--uvloop`` (uvicorn's ``auto`` loop may pick uvloop when it is installed; without the
flag the server runs on asyncio's own loop, as shipped, even where uvloop is importable).

``--profile OUT`` writes a cProfile (pstats) of the window, thread CPU as its clock, of the pool's fetch +
parse + ingest calls (``--profile-where scrape``, the default: every pool thread's profile merged) or of the
event loop's thread (``--profile-where loop``): the Python-level split that perf (no Python frames on 3.11)
and py-spy (50 Hz, idle pool threads counted as busy) do not give. cProfile adds ~1-2 µs a call: read the
shares, and take CPU figures from a run without it.

Old code against new: ``PYTHONPATH=/tmp/old .venv/bin/python bench/ingest_threads.py``, alternated run by run.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import pstats
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest import CLK_TCK, counter_sum, serve_on_targets

APPENDED = ("paramedic_scrape_samples_appended_total",)


def child(out: Path, argv: list[str]) -> None:
    """Inside the server process: count steady-state scrapes, publish thread names, then run the CLI."""
    import collector.cache as cache  # here: the child's PYTHONPATH picks the code under test
    import collector.manager as manager

    experiment = json.loads(out.with_suffix(".experiment").read_text())
    if not experiment.get("uvloop"):
        sys.modules["uvloop"] = None  # type: ignore[assignment]  # uvicorn's "auto" loop: asyncio's own
    if experiment.get("switch_interval"):
        sys.setswitchinterval(experiment["switch_interval"])
    if experiment.get("scrape_workers") or experiment.get("fetch_threads", -1) >= 0:
        init = manager.ScrapeManager.__init__

        def sized(self: object, *args: object, **kwargs: object) -> None:
            if experiment.get("scrape_workers"):
                kwargs["max_workers"] = experiment["scrape_workers"]
            if experiment.get("fetch_threads", -1) >= 0:
                kwargs["max_fetch_threads"] = experiment["fetch_threads"]
            init(self, *args, **kwargs)  # type: ignore[arg-type]

        manager.ScrapeManager.__init__ = sized  # type: ignore[method-assign]
    if experiment.get("inline_ingest"):
        import collector.loop as scrape_loop

        async def inline(self: object, fn: Callable[..., object], *args: object) -> object:
            return fn(*args)  # on the event loop's thread: no pool hand-off, the loop blocked meanwhile

        scrape_loop.ScrapeLoop._in_thread = inline  # type: ignore[method-assign,assignment]

    profile_flags: dict[str, bool] = {}
    if experiment.get("profile"):
        install_profiles(out, profile_flags, experiment["profile"])

    counts: collections.Counter[str] = collections.Counter()
    steady = cache.ScrapeCache._steady_state

    def counted(self: cache.ScrapeCache, exposition: object) -> object:
        first = not len(self)  # no series cached yet: the target's first successful scrape
        result = steady(self, exposition)  # type: ignore[arg-type]
        counts["steady" if result is not None else "general, first" if first else "general, cached"] += 1
        return result

    cache.ScrapeCache._steady_state = counted  # type: ignore[method-assign,assignment]
    gc_started: dict[int, float] = {}

    def gc_timer(phase: str, info: dict[str, int]) -> None:  # CPU of the cyclic GC, by generation
        if phase == "start":
            gc_started[threading.get_ident()] = time.thread_time()
            return
        spent = time.thread_time() - gc_started.pop(threading.get_ident(), time.thread_time())
        counts[f"gc{info['generation']} ms"] += round(spent * 1e3, 3)  # type: ignore[assignment]
        counts[f"gc{info['generation']} runs"] += 1

    gc.callbacks.append(gc_timer)

    def publish() -> None:
        while True:
            time.sleep(2)  # a benchmark helper's publishing period, not a test wait
            names = {t.native_id: t.name for t in threading.enumerate()}
            for flag in ("start", "stop"):  # the parent's marks of the window, for --profile
                profile_flags[flag] = out.with_suffix(".profile-" + flag).exists()
            tmp = out.parent / (out.name + ".tmp")
            tmp.write_text(json.dumps({"paths": counts, "names": names}))
            tmp.replace(out)

    threading.Thread(target=publish, daemon=True, name="bench-publish").start()
    from paramedic.cli import main

    sys.argv = ["paramedic", *argv]
    main()


def install_profiles(out: Path, flags: dict[str, bool], where: str) -> None:
    """cProfile over the parent's window, thread CPU (``time.thread_time``) as the clock: ``where`` is
    ``loop`` (the event loop's thread) or ``scrape`` (the pool's calls that fetch, parse and ingest, one
    profile per pool thread, merged). Switched on and dumped (``out`` with suffix ``.pstats``) by the first
    scrape report (``ScrapeLoop._record``, on the loop) after each of the parent's marks, which the
    publishing thread reads every 2 s: the window's edges are up to ~2 s late. A profiled run's CPU figures
    include cProfile's own cost (~1-2 µs a call): read its shares, not its totals."""
    import cProfile

    import collector.loop as scrape_loop

    loop_prof = cProfile.Profile(time.thread_time)
    pool_profs: dict[int, cProfile.Profile] = {}
    state = {"on": False, "done": False}
    record = scrape_loop.ScrapeLoop._record

    def dump() -> None:
        profs = [loop_prof] if where == "loop" else list(pool_profs.values())
        stats: pstats.Stats | None = None
        for prof in profs:
            prof.create_stats()
            stats = pstats.Stats(prof) if stats is None else stats.add(prof)
        if stats is not None:
            stats.dump_stats(str(out.with_suffix(".pstats")))

    def recorded(self: scrape_loop.ScrapeLoop, *args: Any) -> None:
        record(self, *args)
        if flags.get("start") and not state["on"] and not state["done"]:
            state["on"] = True
            if where == "loop":
                loop_prof.enable()
        elif flags.get("stop") and state["on"]:
            if where == "loop":
                loop_prof.disable()
            state["on"], state["done"] = False, True
            dump()

    scrape_loop.ScrapeLoop._record = recorded  # type: ignore[method-assign,assignment]
    if where != "scrape":
        return
    fetch_parse_ingest = scrape_loop.ScrapeLoop._fetch_parse_ingest

    def profiled(self: scrape_loop.ScrapeLoop, *args: Any) -> Any:
        if not state["on"]:
            return fetch_parse_ingest(self, *args)
        prof = pool_profs.setdefault(threading.get_ident(), cProfile.Profile(time.thread_time))
        prof.enable()
        try:
            return fetch_parse_ingest(self, *args)
        finally:
            prof.disable()

    scrape_loop.ScrapeLoop._fetch_parse_ingest = profiled  # type: ignore[method-assign,assignment]


Usage = tuple[float, float, int, int]  # user s, system s, voluntary and involuntary context switches


def thread_cpu(pid: int) -> dict[int, Usage]:
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            status = dict(
                line.split(":", 1) for line in (task / "status").read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        out[int(task.name)] = (
            int(fields[11]) / CLK_TCK,
            int(fields[12]) / CLK_TCK,
            int(status["voluntary_ctxt_switches"]),
            int(status["nonvoluntary_ctxt_switches"]),
        )
    return out


def start_py_spy(opts: argparse.Namespace, pid: int) -> subprocess.Popen[bytes] | None:
    if not opts.py_spy:
        return None
    mode = ["--gil"] if opts.gil else ["--idle"] if opts.idle else []
    cmd = [opts.py_spy_bin, "record", "-p", str(pid), "-r", "50", "-d", str(int(opts.seconds))]
    cmd += [*mode, "-f", "raw", "-o", opts.py_spy]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(opts: argparse.Namespace) -> None:
    series, targets, warmup_s, seconds = opts.series, opts.targets, opts.warmup_s, opts.seconds
    experiment = {
        "switch_interval": opts.switch_interval,
        "scrape_workers": opts.scrape_workers,
        "inline_ingest": opts.inline_ingest,
        "fetch_threads": opts.fetch_threads,
        "uvloop": opts.uvloop,
        "profile": opts.profile_where if opts.profile else "",
    }

    def argv(root: Path) -> list[str]:
        state = root / "threads.json"
        state.with_suffix(".experiment").write_text(json.dumps(experiment))
        return [
            sys.executable,
            __file__,
            "--child",
            str(state),
            "serve",
            "--config",
            str(root / "paramedic.yaml"),
        ]

    with serve_on_targets(series, targets, "bench-ingest-threads-", argv) as (root, url, proc):
        state = root / "threads.json"
        time.sleep(warmup_s)  # benchmark warm-up, not a test wait
        cpu0, s0 = thread_cpu(proc.pid), counter_sum(url + "/metrics", APPENDED) or 0.0
        paths0 = json.loads(state.read_text())["paths"]
        spy = start_py_spy(opts, proc.pid)
        state.with_suffix(".profile-start").touch()
        time.sleep(seconds)
        state.with_suffix(".profile-stop").touch()
        cpu1, s1 = thread_cpu(proc.pid), counter_sum(url + "/metrics", APPENDED) or 0.0
        published = json.loads(state.read_text())
        if spy is not None:
            spy.wait(60)
        if opts.profile:
            dumped = state.with_suffix(".pstats")
            deadline = time.monotonic() + 10
            while not dumped.exists() and time.monotonic() < deadline:
                time.sleep(0.2)  # polled: the loop dumps at its next scrape report after the next publish
            if dumped.exists():
                pstats.Stats(str(dumped)).sort_stats("tottime").dump_stats(opts.profile)
    report(cpu0, cpu1, s1 - s0, seconds, published, paths0)


def report(
    cpu0: dict[int, Usage],
    cpu1: dict[int, Usage],
    samples: float,
    seconds: float,
    published: dict[str, Any],
    paths0: dict[str, Any],
) -> None:
    names = {int(k): v for k, v in published["names"].items()}
    paths = {k: v - paths0.get(k, 0) for k, v in published["paths"].items()}
    scrapes = max(sum(v for k, v in paths.items() if not k.startswith("gc")), 1)
    rows: dict[str, list[float]] = {}
    for tid, now in cpu1.items():
        name = names.get(tid, "unnamed (DuckDB's own threads)")
        name = "scrape threads" if name.startswith("scrape") else name
        before = cpu0.get(tid, (0.0, 0.0, 0, 0))
        row = rows.setdefault(name, [0.0, 0.0, 0.0, 0.0])
        for k in range(4):
            row[k] += now[k] - before[k]
    total = sum(r[0] + r[1] for r in rows.values())
    print(
        f"{samples:,.0f} samples in {seconds:g} s; CPU {total:.2f} s = {total / samples * 1e6:.3f} µs/sample"
    )
    head = f"  {'thread':34s} {'CPU s':>6s}  {'µs/sample':>9s}  {'user':>6s} {'sys':>6s}"
    print(head + "  context switches per scrape: voluntary, involuntary")
    for name, (user, system, vol, invol) in sorted(rows.items(), key=lambda r: -(r[1][0] + r[1][1])):
        cpu = user + system
        if cpu > 0:
            print(
                f"  {name:34s} {cpu:6.2f}  {cpu / samples * 1e6:9.3f}  {user:6.2f} {system:6.2f}"
                f"  {vol / scrapes:7.1f} {invol / scrapes:7.1f}"
            )
    print(f"scrapes in the window by ScrapeCache path, and the cyclic GC's runs and thread CPU: {paths}")


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
    ap.add_argument("--py-spy", help="record the window with py-spy into this file (raw format)")
    ap.add_argument("--py-spy-bin", default="py-spy")
    ap.add_argument("--gil", action="store_true", help="py-spy: only samples holding the GIL")
    ap.add_argument("--idle", action="store_true", help="py-spy: idle (waiting) samples too")
    ap.add_argument("--switch-interval", type=float, default=0.0)
    ap.add_argument("--scrape-workers", type=int, default=0)
    ap.add_argument("--inline-ingest", action="store_true", help="parse + ingest on the event loop's thread")
    ap.add_argument(
        "--fetch-threads",
        type=int,
        default=-1,
        help="ScrapeManager(max_fetch_threads=N); 0: every target fetched by aiohttp on the loop (as before)",
    )
    ap.add_argument("--uvloop", action="store_true", help="let uvicorn pick uvloop (when installed)")
    ap.add_argument("--profile", help="cProfile over the window (thread CPU clock) into this pstats file")
    ap.add_argument(
        "--profile-where",
        choices=("scrape", "loop"),
        default="scrape",
        help="--profile: the pool's fetch + parse + ingest calls, or the event loop's thread",
    )
    run(ap.parse_args())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
