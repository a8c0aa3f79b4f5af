"""Range-query latency of Paramedic beside Prometheus 2.42 over the same synthetic data, both over HTTP.

    .venv/bin/python bench/query.py [--scrape-s 15] [--reps 5] [--warmup 1] [--full] [--profile]
                                    [--keep | --data DIR] [--only TEXT]

Data (identical in both systems, ending at "now" so retention keeps it):

* ``bench_small_total{instance,code}``: 1,000 series covering 24 h
* ``bench_big_total{instance,code}``: 10,000 series covering 1 h (24 h with ``--full``: 57.6 M samples at
  15 s, slow to generate and backfill; raise ``--scrape-s`` to thin it)
* ``bench_lat_seconds_bucket{instance,le}``: 100 histograms × 10 buckets = 1,000 series covering 1 h

Prometheus gets them as OpenMetrics backfilled with ``promtool tsdb create-blocks-from openmetrics``;
Paramedic gets the same samples appended to an embedded store directory, then ``paramedic serve`` runs on it.
Each query runs ``--reps`` times per system (default 5, after ``--warmup`` untimed runs, default 1) at 15 s
step. Paramedic runs PromQL semantics "2" (Prometheus 2.42's closed range windows; its default "3" would
make ``rate`` differ from the peer's). Every query counts: the table shows both median wall-clock times and
their ratio Paramedic/Prometheus, both servers' process CPU per request (utime + stime from
``/proc/PID/stat``, every thread; mean over the timed runs, as one run is counted in 10 ms ticks) and its
ratio (goal <= 1.0 for both), and whether both returned the same values (every series, timestamp and value;
values equal within 1e-9 relative, 1e-12 absolute). A query that fails on Paramedic is reported as FAILED
and enters the ratios as +inf; one that fails on Prometheus is reported as such (no ratio: there is nothing
to compare with) and counted apart. The summary gives the median and the p90 (nearest rank) of the per-query
ratios (wall and CPU) and both peak RSS. ``--profile`` re-runs Paramedic's slowest query in-process under
cProfile (evaluation + JSON). ``--keep`` keeps the generated data, ``--data DIR`` runs on such a kept
directory again (no generation: before/after comparisons on identical data), ``--only TEXT`` runs the
queries containing TEXT.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import orjson
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics_store.api import result_json
from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.model import labels_from
from metrics_store.promql import Engine
from metrics_store.promql.semantics import PROMETHEUS_2
from tests.support.servers import ManagedProcess, free_port, wait_http

HOUR_S = 3600
WINDOW_S = 600  # data starts this much before the longest range, for [5m] windows


@dataclass(frozen=True)
class Family:
    name: str
    labels: list[dict[str, str]]
    hours: float


def _families(full: bool) -> list[Family]:
    def counters(n: int) -> list[dict[str, str]]:
        return [{"instance": f"i{i}", "code": str(200 + 100 * (i % 4))} for i in range(n)]

    les = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    hist = [{"instance": f"i{i}", "le": le} for i in range(100) for le in les]
    return [
        Family("bench_small_total", counters(1_000), 24),
        Family("bench_big_total", counters(10_000), 24 if full else 1),
        Family("bench_lat_seconds_bucket", hist, 24 if full else 1),
    ]


def _values(fam: Family, steps: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One value row per scrape: counters; cumulative over ``le`` for histogram buckets."""
    n = len(fam.labels)
    cur = np.zeros(n)
    for _ in range(steps):
        if fam.name.endswith("_bucket"):
            inc = rng.integers(0, 5, (n // 10, 10)).cumsum(axis=1).reshape(n)
        else:
            inc = rng.integers(0, 10, n)
        cur += inc
        yield cur


def _fmt_labels(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def generate(families: list[Family], end_s: int, scrape_s: int, om_path: Path, store: EmbeddedStore) -> int:
    """Write the OpenMetrics file and append the same samples to ``store``; returns the sample count."""
    total = 0
    with om_path.open("w") as om:
        for fam in families:
            rng = np.random.default_rng(len(fam.labels))
            steps = int((fam.hours * HOUR_S + WINDOW_S) // scrape_s) + 1
            start_s = end_s - (steps - 1) * scrape_s
            prefixes = [_fmt_labels(fam.name, lb) + " " for lb in fam.labels]
            refs = np.array(
                [store.series_ref(labels_from({"__name__": fam.name, **lb})) for lb in fam.labels],
                dtype=np.uint32,
            )
            om.write(f"# TYPE {fam.name} gauge\n")
            for k, row in enumerate(_values(fam, steps, rng)):
                ts_s = start_s + k * scrape_s
                suffix = f" {ts_s}\n"
                om.write("".join(p + str(int(v)) + suffix for p, v in zip(prefixes, row, strict=True)))
                store.append(refs, np.full(len(refs), ts_s * 1000, dtype=np.int64), row)  # type: ignore[arg-type]
                total += len(refs)
        om.write("# EOF\n")
    return total


def _queries(full: bool, ranges: list[int]) -> list[tuple[str, str, int]]:
    """(series set, PromQL, range hours)."""
    out = []
    for metric, label, hours in (
        ("bench_small_total", "1k", ranges),
        ("bench_big_total", "10k", ranges if full else [h for h in ranges if h <= 1]),
    ):
        for h in hours:
            out += [
                (label, metric, h),
                (label, f"rate({metric}[5m])", h),
                (label, f"sum by (code) (rate({metric}[5m]))", h),
                (label, f"avg_over_time({metric}[5m])", h),
            ]
    for h in ranges if full else [h for h in ranges if h <= 1]:
        out.append(("1k", "histogram_quantile(0.9, sum by (le) (rate(bench_lat_seconds_bucket[5m])))", h))
    return out


@dataclass
class Timing:
    """Median latency and mean process CPU over the timed runs, the result of the last run, or the error of
    the first failure."""

    median_s: float
    result: list[dict[str, object]] | None
    error: str = ""
    cpu_s: float = math.inf


_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (all its threads), from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def _time_query(
    client: httpx.Client, pid: int, query: str, start: int, end: int, reps: int, warmup: int
) -> Timing:
    params = {"query": query, "start": str(start), "end": str(end), "step": "15"}
    times: list[float] = []
    cpus: list[float] = []
    result: list[dict[str, object]] | None = None
    for i in range(warmup + reps):
        c = process_cpu_s(pid)
        t = time.perf_counter()
        resp = client.post("/api/v1/query_range", data=params)
        el = time.perf_counter() - t
        cpu = process_cpu_s(pid) - c
        try:
            body = resp.json()
        except ValueError:
            return Timing(math.inf, None, f"HTTP {resp.status_code}: {resp.text[:120]}")
        if body.get("status") != "success":
            return Timing(math.inf, None, f"{body.get('errorType')}: {body.get('error')}")
        result = body["data"]["result"]
        if i >= warmup:
            times.append(el)
            cpus.append(cpu)
    # CPU: the mean over the timed runs (total / runs): one run's figure is a whole number of 10 ms ticks,
    # so the median of a 50 ms query could only be 40, 50 or 60 ms; the total's tick error is spread over them
    return Timing(statistics.median(times), result, cpu_s=sum(cpus) / len(cpus))


def _points(result: list[dict[str, object]]) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
    out = {}
    for series in result:
        metric = series["metric"]
        assert isinstance(metric, dict)
        values = series.get("values", [])
        assert isinstance(values, list)
        out[tuple(sorted(metric.items()))] = [(float(t), float(v)) for t, v in values]
    return out


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def compare(prom: list[dict[str, object]], para: list[dict[str, object]]) -> str:
    """``same`` when both results hold the same series, timestamps and values, else what differs."""
    p, m = _points(prom), _points(para)
    if p.keys() != m.keys():
        only_p, only_m = len(p.keys() - m.keys()), len(m.keys() - p.keys())
        return f"DIFFER series: {only_p} only in Prometheus, {only_m} only in Paramedic"
    bad_series, bad_points, example = 0, 0, ""
    for key, pv in p.items():
        mv = m[key]
        if [t for t, _ in pv] != [t for t, _ in mv]:
            bad_series += 1
            example = example or f"{dict(key)}: {len(pv)} vs {len(mv)} timestamps"
            continue
        wrong = [(t, a, b) for (t, a), (_, b) in zip(pv, mv, strict=True) if not _close(a, b)]
        if wrong:
            bad_series += 1
            bad_points += len(wrong)
            example = example or f"{dict(key)} at {wrong[0][0]:.0f}: {wrong[0][1]!r} vs {wrong[0][2]!r}"
    if bad_series:
        return f"DIFFER in {bad_series} series ({bad_points} values), e.g. {example}"
    return "same"


def _ms(seconds: float) -> str:
    return f"{'FAILED':>11}" if math.isinf(seconds) else f"{seconds * 1000:9.1f}ms"


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def _profile(store_dir: Path, cfg: EmbeddedStoreConfig, query: str, start: int, end: int) -> None:
    """What the HTTP handler does (evaluate, build the JSON result, encode), in this thread under cProfile."""
    store = EmbeddedStore(store_dir, cfg, registry=CollectorRegistry(), background=False)
    engine = Engine(store, registry=CollectorRegistry(), semantics=PROMETHEUS_2)
    prof = cProfile.Profile()
    try:
        prof.enable()
        value = engine.range_query(query, start * 1000, end * 1000, 15_000)
        orjson.dumps({"status": "success", "data": result_json(value)})
        prof.disable()
    finally:
        store.close()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
    print(f"\ncProfile of {query!r} over {(end - start) // HOUR_S} h (evaluate + JSON, by own time):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


class _PeakRss:
    """Polls a process' VmRSS/VmHWM from a thread (the figures are gone once it exits)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                text = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith(("VmRSS:", "VmHWM:")):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


@dataclass(frozen=True)
class Server:
    """One system under test: its HTTP client and the process whose CPU a request is charged with."""

    client: httpx.Client
    pid: int


def _summary(name: str, ratios: list[float]) -> str:
    return f"{name} median {statistics.median(ratios):.2f}, p90 {nearest_rank(ratios, 0.9):.2f}"


def run_queries(
    prom_srv: Server,
    para_srv: Server,
    queries: list[tuple[str, str, int]],
    end_s: int,
    args: argparse.Namespace,
) -> tuple[float, str, int]:
    """Times every query on both systems, prints a row each and the summary; returns Paramedic's slowest."""
    print(
        f"\n{'set':4} {'range':>5} {'query':72} {'Prometheus':>11} {'Paramedic':>11} {'ratio':>7}"
        f" {'Prom CPU':>11} {'Para CPU':>11} {'CPU r.':>7}  values"
    )
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    peer_failed = differ = 0
    slowest: tuple[float, str, int] = (0.0, "", 0)
    for label, query, hours in queries:
        start = end_s - hours * HOUR_S
        prom = _time_query(prom_srv.client, prom_srv.pid, query, start, end_s, args.reps, args.warmup)
        para = _time_query(para_srv.client, para_srv.pid, query, start, end_s, args.reps, args.warmup)
        row = f"{label:4} {hours:>4}h {query:72} {_ms(prom.median_s)} {_ms(para.median_s)}"
        if prom.error:
            peer_failed += 1
            para_note = f"Paramedic FAILED too: {para.error[:60]}" if para.error else "Paramedic answered"
            print(f"{row} {'n/a':>7}  PROMETHEUS FAILED: {prom.error[:80]}; {para_note}")
            continue
        if para.error:
            ratios.append(math.inf)
            cpu_ratios.append(math.inf)
            print(f"{row} {'inf':>7}  PARAMEDIC FAILED: {para.error[:100]}")
            continue
        ratio = para.median_s / prom.median_s
        # CPU is counted in clock ticks (10 ms): a zero on the peer's side is one tick at most
        cpu_ratio = para.cpu_s / max(prom.cpu_s, _TICK_S)
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        if para.median_s > slowest[0]:
            slowest = (para.median_s, query, hours)
        assert prom.result is not None and para.result is not None
        same = compare(prom.result, para.result)
        differ += same != "same"
        print(
            f"{row} {ratio:7.2f} {_ms(prom.cpu_s)} {_ms(para.cpu_s)} {cpu_ratio:7.2f}"
            f"  {len(para.result)} series, {same}"
        )
    failed = sum(math.isinf(r) for r in ratios)
    print(
        f"\n{len(queries)} queries, {args.reps} timed runs each after {args.warmup} warm-up; ratios "
        f"Paramedic/Prometheus (failures on Paramedic count as inf): {_summary('wall', ratios)}; "
        f"{_summary('CPU per request', cpu_ratios)} (goal <= 1.0 at both); {failed} failed on Paramedic, "
        f"{peer_failed} failed on Prometheus (no ratio), {differ} with different values"
    )
    return slowest


def _prepare(tmp: Path, cfg: EmbeddedStoreConfig, args: argparse.Namespace) -> int:
    """Generates the data into both stores under ``tmp``; returns (and writes to ``tmp/end_s``) its end."""
    end_s = int(time.time()) // 60 * 60 - 60
    t = time.perf_counter()
    store = EmbeddedStore(tmp / "para", cfg, registry=CollectorRegistry(), background=False)
    total = generate(_families(args.full), end_s, args.scrape_s, tmp / "data.om", store)
    store.checkpoint()
    store.close()
    print(
        f"generated {total:,} samples ({(tmp / 'data.om').stat().st_size / 1e6:.0f} MB OpenMetrics, "
        f"Paramedic store written) in {time.perf_counter() - t:.1f} s"
    )
    t = time.perf_counter()
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            str(tmp / "data.om"),
            str(tmp / "prom"),
        ],
        check=True,
    )
    (tmp / "data.om").unlink()
    print(f"promtool backfill: {time.perf_counter() - t:.1f} s")
    (tmp / "end_s").write_text(str(end_s))
    return end_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scrape-s", type=int, default=15, help="interval of the synthetic samples")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per query and system (median)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs before them")
    ap.add_argument("--ranges", default="1,24", help="query ranges in hours, comma-separated")
    ap.add_argument("--full", action="store_true", help="also 10k series × 24 h (57.6 M samples at 15 s)")
    ap.add_argument("--profile", action="store_true", help="cProfile Paramedic's slowest query")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--only", default="", help="run only the queries whose PromQL contains this text")
    ap.add_argument("--data", help="reuse a directory kept by --keep (same data, no generation)")
    args = ap.parse_args()
    tmp = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="bench-query-"))
    cfg = EmbeddedStoreConfig(path=str(tmp / "para"), downsample_after_s=None, checkpoint_samples=10**9)
    procs: list[ManagedProcess] = []
    try:
        end_s = int((tmp / "end_s").read_text()) if args.data else _prepare(tmp, cfg, args)
        prom_port, para_port = free_port(), free_port()
        (tmp / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
        (tmp / "paramedic.yaml").write_text(
            f"server: {{listen_port: {para_port}, auth: {{anonymous_read: true}}}}\n"
            f"metrics_store: {{type: embedded, path: {tmp / 'para'}, downsample_after_s: null}}\n"
            'promql: {semantics: "2"}\n'  # the peer is Prometheus 2.42 (closed range windows)
        )
        prom = ManagedProcess(
            "prometheus",
            [
                "prometheus",
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'prom'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp / "prometheus.log",
        )
        procs.append(prom)
        para = ManagedProcess(
            "paramedic",
            [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(tmp / "paramedic.yaml")],
            tmp / "paramedic.log",
        )
        procs.append(para)
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready", 120, prom)
        wait_http(f"http://127.0.0.1:{para_port}/-/ready", 120, para)
        rss = {"Paramedic": _PeakRss(para.pid), "Prometheus": _PeakRss(prom.pid)}

        with (
            httpx.Client(base_url=f"http://127.0.0.1:{prom_port}", timeout=600) as pc,
            httpx.Client(base_url=f"http://127.0.0.1:{para_port}", timeout=600) as mc,
        ):
            slowest = run_queries(
                Server(pc, prom.pid),
                Server(mc, para.pid),
                [
                    q
                    for q in _queries(args.full, [int(h) for h in args.ranges.split(",")])
                    if args.only in q[1]
                ],
                end_s,
                args,
            )
        print("peak RSS: " + ", ".join(f"{k} {v.stop_mb():.0f} MB" for k, v in rss.items()))
        for p in procs:
            p.stop()
        procs.clear()
        if args.profile and slowest[1]:
            _profile(tmp / "para", cfg, slowest[1], end_s - slowest[2] * HOUR_S, end_s)
    finally:
        for p in procs:
            p.stop()
        if args.keep or args.data:
            print(f"kept {tmp} (reuse with --data {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
