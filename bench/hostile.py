"""bench/hostile.py: ordinary query latency on a quiet server and during a burst of hostile requests.

    .venv/bin/python bench/hostile.py [--requests 100] [--workers 16] [--samples 200] [--attacker-nice 0]
        [--attacker-idle] [--kinds a,b] [--search-processes N] [--latency-slice-us N]
    .venv/bin/python bench/hostile.py --cpu-per-kind [--per-kind 7] [--kinds a,b] [--with-reads]

Starts a real ``paramedic serve`` on loopback (``tests/support/hostile.py``: a static exporter with a known
value, a syslog TCP listener, tokens per role), then

1. quiet: ``--samples`` sequential ordinary reads as a viewer, each an instant query of the probe metric and
   a 2-minute ``query_range`` at 15 s step; p50/p99 of each, and every answer checked (the exporter's value);
2. hostile: the same reads, repeated for as long as a burst of ``--requests`` mixed hostile requests runs
   from ``--workers`` threads (the catalogue of issue 11 in ``tests/support/hostile_requests.py``;
   ``--kinds`` picks some of it).

The ordinary reads run in a child process, so the attackers' threads do not hold them up on this process'
GIL: what is measured is the server's answer time (the two share the machine's CPUs, as they would on a
loaded host).
3. after: ``/-/healthy`` within 1 s and the ordinary query still right.

Prints both latency figures, the ratio p99(hostile)/p99(quiet) against the 2x goal, the results the hostile
requests got (by kind), the server's peak RSS, and whether it stayed up and answered correctly. If the
server dies it says at which kinds (those in flight) and stops. Everything is bounded: each hostile request
gives up after 10 s, each ordinary read after 10 s.

``--cpu-per-kind`` measures instead, kind by kind and with no ordinary reads, the server's CPU seconds
(process, and its children: log search workers, password hash children; from ``/proc``) for ``--per-kind``
actions of that kind fired at once (as in the mixed burst of 100, where each kind comes ~7 times): the
figure that the machine's other load moves least.

Goal (issue 11): the server stays up, the ordinary answers stay right, p99 under the burst <= 2x quiet.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics_store.background import lower_thread_priority
from tests.support.hostile import PROBE_METRIC, PROBE_VALUE, Target, running_target
from tests.support.hostile_requests import CATALOGUE, Burst, prepare, run_burst

GOAL_RATIO = 2.0
T = TypeVar("T")
READ_TIMEOUT_S = 10.0


@dataclass
class Reads:
    """Latencies (ms) of the ordinary reads by kind, and what went wrong with any of them."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {"query": [], "query_range": []})
    wrong: list[str] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (time.monotonic() start, ms) of each

    def all_ms(self) -> list[float]:
        return self.ms["query"] + self.ms["query_range"]


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _check_instant(body: Any) -> str | None:
    result = body["data"]["result"]
    got = [float(s["value"][1]) for s in result]
    return None if got == [PROBE_VALUE] else f"query returned {got}"


def _check_range(body: Any) -> str | None:
    result = body["data"]["result"]
    values = [float(v) for s in result for _, v in s["values"]]
    ok = len(result) == 1 and values and all(v == PROBE_VALUE for v in values)
    return None if ok else f"query_range returned {len(result)} series, values {sorted(set(values))[:5]}"


def ordinary_read(client: httpx.Client, kind: str, reads: Reads) -> None:
    """One ordinary read; records its latency and whether the answer was right."""
    now = time.time()
    if kind == "query":
        params = {"query": PROBE_METRIC}
        check = _check_instant
    else:
        params = {"query": PROBE_METRIC, "start": f"{now - 120:.3f}", "end": f"{now:.3f}", "step": "15"}
        check = _check_range
    started = time.monotonic()
    try:
        r = client.get(f"/api/v1/{kind}", params=params)
        problem = f"{kind}: HTTP {r.status_code}" if r.status_code != 200 else check(r.json())
    except httpx.HTTPError as exc:
        problem = f"{kind}: {type(exc).__name__}"
    ms = (time.monotonic() - started) * 1000
    reads.ms[kind].append(ms)
    reads.spans.append((started, ms))
    if problem is not None:
        reads.wrong.append(problem)


def _reader(base_url: str, token: str, min_pairs: int, ready: Any, stop: Any, out: Connection) -> None:
    """Child process (no GIL shared with the attackers): alternate the two ordinary reads until
    ``min_pairs`` are done and ``stop`` is set; sends back (latencies by kind, problems)."""
    reads = Reads()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=READ_TIMEOUT_S) as client:
        with contextlib.suppress(httpx.HTTPError):
            client.get("/-/healthy")  # connected before timing starts
        ready.set()
        n = 0
        while n < min_pairs or not stop.is_set():
            ordinary_read(client, "query", reads)
            ordinary_read(client, "query_range", reads)
            n += 1
    out.send((reads.ms, reads.wrong, reads.spans))
    out.close()


def measure(target: Target, min_pairs: int, during: Callable[[], T] | None = None) -> tuple[Reads, T | None]:
    """Ordinary reads from a child process: ``min_pairs`` pairs, and on for as long as ``during()`` runs in
    this process (when given); returns the reads and what ``during`` returned."""
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    token = target.tokens["viewer"]
    child = ctx.Process(
        target=_reader, args=(target.base_url, token, min_pairs, ready, stop, send), daemon=True
    )
    child.start()
    send.close()
    try:
        if not ready.wait(60):
            raise RuntimeError("the ordinary-read process did not start within 60 s")
        result = during() if during is not None else None
    finally:
        stop.set()
    ms, wrong, spans = receive.recv()
    child.join(30)
    return Reads(ms, wrong, spans), result


def peak_rss_mib(target: Target) -> float:
    try:
        status = Path(f"/proc/{target.proc.pid}/status").read_text()
    except OSError:
        return math.nan
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def run_queue_wait_s(pid: int) -> float:
    """Seconds the live threads of ``pid`` have waited runnable for a CPU (``/proc/.../schedstat``'s second
    field): how long the server's threads waited behind other work, which the slice requests aim at."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(stat.read_text().split()[1])
    return total / 1e9


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by process ``pid`` and by its live children together (the log
    search workers, the password hash children); NaN where /proc cannot tell."""

    def used(stat_path: Path) -> tuple[int, float]:
        fields = stat_path.read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    try:
        own = used(Path(f"/proc/{pid}/stat"))[1]
    except (OSError, ValueError, IndexError):
        return math.nan, math.nan
    children = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid, seconds = used(stat)
            if ppid == pid:
                children += seconds
    return own, children


def alive_after(target: Target) -> str:
    try:
        target.assert_alive()
    except (AssertionError, httpx.HTTPError) as exc:
        return f"NO: {type(exc).__name__}: {str(exc)[:400]}"
    return "yes (/-/healthy < 1 s, the ordinary query returns the exporter's value)"


def print_reads(label: str, reads: Reads) -> None:
    for kind, ms in reads.ms.items():
        print(
            f"  {label:8} {kind:12} n={len(ms):4}  p50 {percentile(ms, 50):8.1f} ms  "
            f"p99 {percentile(ms, 99):8.1f} ms  max {max(ms, default=math.nan):8.1f} ms"
        )
    both = reads.all_ms()
    p50, p99 = percentile(both, 50), percentile(both, 99)
    print(f"  {label:8} {'both':12} n={len(both):4}  p50 {p50:8.1f} ms  p99 {p99:8.1f} ms")


def print_slowest(reads: Reads, burst: Burst) -> None:
    """Which hostile kinds were in flight during the slowest 1% of the ordinary reads."""
    slowest = sorted(reads.spans, key=lambda s: s[1], reverse=True)[: max(1, len(reads.spans) // 100)]
    overlaps: Counter[str] = Counter()
    for start, ms in slowest:
        end = start + ms / 1000
        overlaps.update({o.kind for o in burst.outcomes if o.started < end and o.started + o.seconds > start})
    shown = ", ".join(f"{kind} {n}/{len(slowest)}" for kind, n in overlaps.most_common())
    print(f"  kinds in flight during the slowest {len(slowest)} reads: {shown or 'none'}")


def print_burst(burst: Burst) -> None:
    print(
        f"\nhostile requests ({len(burst.outcomes)} actions done in {burst.seconds:.1f} s), results by kind:"
    )
    for kind, counts in sorted(burst.histogram().items()):
        seconds = [o.seconds for o in burst.outcomes if o.kind == kind]
        shown = ", ".join(f"{result} x{n}" for result, n in sorted(counts.items()))
        print(f"  {kind:28} {len(seconds):3} actions  slowest {max(seconds):6.2f} s   {shown}")
    errors = burst.server_errors()
    print(f"  5xx / reset / timeout answers: {len(errors)}" + (f"  {sorted(set(errors))}" if errors else ""))


@dataclass(frozen=True)
class Attacker:
    """How the attacker's threads are scheduled here (a real attacker sends from a host of its own).

    ``nice``: their nice value (19: a small CPU share). ``idle``: ``SCHED_IDLE`` on top, so they run only on a
    core nothing else wants. On an EEVDF kernel (Linux 6.6+) a running nice-19 thread keeps its time slice
    (~3 ms) when a server thread wakes up; a ``SCHED_IDLE`` one is preempted at once, which is what sending
    from another host would be.
    """

    nice: int = 0
    idle: bool = False

    def __str__(self) -> str:
        return f"nice {self.nice}" + (", SCHED_IDLE" if self.idle else "")

    def lower(self) -> None:
        """Lower the calling thread (the threads it starts inherit it)."""
        lower_thread_priority(self.nice)
        if self.idle:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def niced_burst(target: Target, requests: int, workers: int, kinds: list[str], attacker: Attacker) -> Burst:
    """:func:`run_burst` from threads scheduled as ``attacker`` says (the threads it starts inherit it)."""
    with ThreadPoolExecutor(1, initializer=attacker.lower) as pool:
        return pool.submit(run_burst, target, requests, workers, 11, kinds).result()


def cpu_per_kind(tmp: Path, per_kind: int, kinds: list[str], attacker: Attacker, reads: bool) -> bool:
    """Server CPU seconds for ``per_kind`` actions of each kind, less what the idle server uses in that time
    (collector, rules); with ``reads``, a second pass with ordinary reads running and their p99 against a
    quiet p99. False if the server died."""
    with running_target(tmp) as target:
        prepare(target)
        pid = target.proc.pid
        before, began = cpu_seconds(pid), time.monotonic()
        time.sleep(3.0)  # the idle server's own CPU use (scrapes, rule evaluations), subtracted below
        idle_rate = (cpu_seconds(pid)[0] - before[0]) / (time.monotonic() - began)
        print(f"paramedic serve (pid {pid}); {per_kind} actions per kind at once, attackers at "
              f"{attacker}; idle CPU {idle_rate * 1000:.0f} ms/s, subtracted below\n")  # fmt: skip
        total_own = total_children = 0.0
        for kind in kinds or list(CATALOGUE):
            before = cpu_seconds(pid)
            burst = niced_burst(target, per_kind, per_kind, [kind], attacker)
            after = cpu_seconds(pid)
            own = after[0] - before[0] - idle_rate * burst.seconds
            children = after[1] - before[1]
            total_own += own
            total_children += children
            got = burst.histogram().get(kind, Counter())
            results = ", ".join(f"{r} x{n}" for r, n in sorted(got.items()))
            print(f"  {kind:28} server {own:6.2f} s  children {children:5.2f} s  wall {burst.seconds:5.2f} s"
                  f"   {results}")  # fmt: skip
            if burst.died_during is not None or target.proc.popen.poll() is not None:
                print(f"server died at {kind}")
                return False
        print(f"  {'total':28} server {total_own:6.2f} s  children {total_children:5.2f} s")
        if reads:
            return _p99_per_kind(target, per_kind, kinds, attacker)
        return True


def _p99_per_kind(target: Target, per_kind: int, kinds: list[str], attacker: Attacker) -> bool:
    quiet, _ = measure(target, 100)
    p99_quiet = percentile(quiet.all_ms(), 99)
    print(f"\nordinary reads kind by kind: quiet p99 {p99_quiet:.1f} ms (n={len(quiet.all_ms())})")
    for kind in kinds or list(CATALOGUE):
        fire = functools.partial(niced_burst, target, per_kind, per_kind, [kind], attacker)
        hostile, _ = measure(target, 1, fire)
        both = hostile.all_ms()
        p99 = percentile(both, 99)
        print(f"  {kind:28} n={len(both):4}  p50 {percentile(both, 50):6.1f} ms  p99 {p99:6.1f} ms  "
              f"ratio {p99 / p99_quiet:5.2f}")  # fmt: skip
        if target.proc.popen.poll() is not None:
            return False
    return True


def print_slices(pid: int) -> None:
    """The EEVDF slice of every thread of the server and of its child processes, grouped (Linux >= 6.12):
    shows what server.latency_slice_us reached (event loop, read threads) and what gave it back."""
    try:
        from metrics_store.sched_slice import SliceError, get_thread_slice_ns
    except ImportError:  # an older tree (A/B against main before the slice requests)
        return
    groups: dict[tuple[str, int], Counter[str]] = {}
    for owner in [pid, *_children(pid)]:
        for task in Path(f"/proc/{owner}/task").glob("*"):
            with contextlib.suppress(OSError, SliceError):
                name = (task / "comm").read_text().strip()
                kind = "server" if owner == pid else "child"
                groups.setdefault((kind, get_thread_slice_ns(int(task.name)) // 1000), Counter())[name] += 1
    print("EEVDF slices after the burst (us: threads by name):")
    for (kind, slice_us), names in sorted(groups.items()):
        shown = ", ".join(f"{name} x{count}" for name, count in names.most_common(6))
        print(f"  {kind} {slice_us} us: {sum(names.values())} threads ({shown})")


def _children(pid: int) -> list[int]:
    """Child processes of any thread of ``pid`` (each thread lists the ones it started)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in children.read_text().split()]
    return found


def run(
    tmp: Path,
    requests: int,
    workers: int,
    samples: int,
    kinds: list[str],
    attacker: Attacker,
    search_processes: int | None,
    latency_slice_us: int | None = None,
) -> bool:
    extra: dict[str, Any] = {}
    if search_processes is not None:
        extra["logs"] = {"search_api": {"search_processes": search_processes}}
    if latency_slice_us is not None:
        extra["server"] = {"latency_slice_us": latency_slice_us}
    with running_target(tmp, extra_config=extra or None) as target:
        prepare(target)
        shown = "default" if search_processes is None else str(search_processes)
        slice_shown = "default" if latency_slice_us is None else str(latency_slice_us)
        print(f"paramedic serve at {target.base_url} (pid {target.proc.pid}); {requests} hostile requests, "
              f"{workers} workers at {attacker}; ordinary reads as a viewer; "
              f"logs.search_api.search_processes: {shown}; "
              f"server.latency_slice_us: {slice_shown}\n")  # fmt: skip

        cpu_start, wait_start = cpu_seconds(target.proc.pid), run_queue_wait_s(target.proc.pid)
        quiet, _ = measure(target, samples)
        rss_quiet = peak_rss_mib(target)
        cpu_before, wait_before = cpu_seconds(target.proc.pid), run_queue_wait_s(target.proc.pid)
        hostile, fired = measure(target, 1, lambda: niced_burst(target, requests, workers, kinds, attacker))
        cpu_after, wait_after = cpu_seconds(target.proc.pid), run_queue_wait_s(target.proc.pid)
        assert fired is not None
        burst = fired
        rss_burst = peak_rss_mib(target)

        print("ordinary read latency:")
        print_reads("quiet", quiet)
        print_reads("hostile", hostile)
        p99_quiet, p99_hostile = percentile(quiet.all_ms(), 99), percentile(hostile.all_ms(), 99)
        ratio = p99_hostile / p99_quiet
        ratio_ok = ratio <= GOAL_RATIO
        verdict = "met" if ratio_ok else "NOT met"
        print(f"  p99 hostile / p99 quiet = {ratio:.2f} (goal <= {GOAL_RATIO:.0f}x): {verdict}")
        print(
            f"  CPU during the burst: server process {cpu_after[0] - cpu_before[0]:.2f} s, its child "
            f"processes (log search workers, password hashes) {cpu_after[1] - cpu_before[1]:.2f} s (less "
            "sensitive to load)"
        )
        quiet_cpu = cpu_before[0] - cpu_start[0]
        per_read = quiet_cpu / max(1, len(quiet.all_ms()))
        reads_cpu = per_read * len(hostile.all_ms())
        print(
            f"  CPU of the quiet run: {quiet_cpu:.2f} s, {per_read * 1000:.2f} ms per ordinary read; the "
            f"burst's {len(hostile.all_ms())} reads at that rate: {reads_cpu:.2f} s, leaving "
            f"{cpu_after[0] - cpu_before[0] - reads_cpu:.2f} s of server CPU for the hostile requests"
        )
        n_quiet, n_hostile = max(1, len(quiet.all_ms())), max(1, len(hostile.all_ms()))
        print(
            f"  server threads' run-queue wait per ordinary read: quiet "
            f"{(wait_before - wait_start) * 1000 / n_quiet:.2f} ms, burst "
            f"{(wait_after - wait_before) * 1000 / n_hostile:.2f} ms (time runnable but not running)"
        )
        print_slowest(hostile, burst)
        print_burst(burst)
        print_slices(target.proc.pid)
        print(
            f"\nserver peak RSS: {rss_quiet:.0f} MiB after the quiet run, {rss_burst:.0f} MiB after the burst"
        )
        died = burst.died_during is not None or target.proc.popen.poll() is not None
        if died:
            print(f"server died (exit code {target.proc.popen.returncode}) at {burst.died_during}:")
            print("\n".join("  " + line for line in target.proc.log_tail(15).splitlines()))
            stayed_up = "NO"
        else:
            stayed_up = alive_after(target)
        print(f"server stayed up and correct after the burst: {stayed_up}")
        wrong = quiet.wrong + hostile.wrong
        verdict = "yes" if not wrong else f"NO ({len(wrong)}): " + "; ".join(wrong[:5])
        print(f"ordinary answers correct during both runs: {verdict}")
        return ratio_ok and not died and stayed_up.startswith("yes") and not wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--requests", type=int, default=100, help="hostile requests in the burst")
    ap.add_argument("--workers", type=int, default=16, help="threads sending them at once")
    ap.add_argument("--samples", type=int, default=200, help="ordinary read pairs on the quiet server")
    ap.add_argument("--kinds", default="", help="comma-separated hostile kinds to fire (default: all)")
    ap.add_argument(
        "--attacker-nice",
        type=int,
        default=0,
        help="nice value of the threads that send the hostile requests (19: the attacker's own CPU use barely"
        " competes with the server, as when it sends from another host; 0: as much as the server)",
    )
    ap.add_argument(
        "--attacker-idle",
        action="store_true",
        help="also run the attacker's threads under SCHED_IDLE (Linux): on an EEVDF kernel a running nice-19"
        " thread keeps its ~3 ms slice when a server thread wakes; an idle-class one yields at once, as an"
        " attacker on another host would",
    )
    ap.add_argument(
        "--search-processes",
        type=int,
        default=None,
        help="logs.search_api.search_processes of the server (0: log searches in the server's own threads, "
        "as before the worker processes; default: the config default)",
    )
    ap.add_argument(
        "--latency-slice-us",
        type=int,
        default=None,
        help="server.latency_slice_us of the server (0: the kernel's default slice, as before the slice "
        "requests; default: the config default)",
    )
    ap.add_argument(
        "--cpu-per-kind", action="store_true", help="measure the server's CPU seconds kind by kind instead"
    )
    ap.add_argument("--per-kind", type=int, default=7, help="actions of each kind with --cpu-per-kind")
    ap.add_argument(
        "--with-reads", action="store_true", help="with --cpu-per-kind: also ordinary-read p99 kind by kind"
    )
    a = ap.parse_args()
    attacker = Attacker(a.attacker_nice, a.attacker_idle)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as d:
        kinds = [k for k in a.kinds.split(",") if k]
        if a.cpu_per_kind:
            sys.exit(0 if cpu_per_kind(Path(d), a.per_kind, kinds, attacker, a.with_reads) else 1)
        ok = run(
            Path(d), a.requests, a.workers, a.samples, kinds, attacker, a.search_processes, a.latency_slice_us
        )
    print("\nissue 11 burst goal:", "MET" if ok else "NOT MET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
