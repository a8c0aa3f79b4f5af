"""Ingest benchmark: Paramedic and Prometheus scrape the same synthetic targets, one after the other, each
measured the same way at the same points.

    .venv/bin/python bench/ingest.py [--targets 50] [--series 2000] [--interval-s 1] [--seconds 60]

For each system:

* **window** (nothing forced): samples/s and CPU-seconds per million samples over ``--seconds`` of steady
  scraping after ``--warmup-s``. Prometheus compacts its head into a block only every 2 h, so it does no
  compaction here; Paramedic as shipped (``paramedic``) folds its WAL into DuckDB every 2 M samples or 60 s,
  so part of its compaction falls inside the window; ``paramedic-nofold`` puts folding off past the run, so
  both it and Prometheus are measured before compaction.
* **whole run, compacted** (the fair headline): CPU from just before the first sample is ingested until the
  process has exited, per million samples ingested, with everything compacted at the end on both sides and
  that CPU counted: Prometheus writes its head into a block (TSDB admin API snapshot, ``skip_head=false``)
  and then stops; Paramedic stops (``close()`` folds what is left of the WAL into DuckDB). The CPU of an
  exited process comes from ``wait4``'s resource usage (all threads).
* **RSS / series**: resident memory at the end of the window minus resident memory just before the first
  sample, divided by the active series (targets × series), the same way on both sides.
* **bytes / sample**: uncompacted (the WAL, and Prometheus' head chunks, at the end of the window, over the
  samples ingested so far) and compacted (Prometheus' snapshot block; Paramedic's DuckDB files after exit,
  over all samples ingested) reported apart.

Needs `prometheus` (Debian's 2.42 package; scripts/install.sh installs it). On a shared machine compare the
ratios of one run: both systems run in it, one after the other.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
EXIT_TIMEOUT_S = 300.0


def free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def counter_sum(url: str, names: tuple[str, ...]) -> float | None:
    text = httpx.get(url, timeout=10).text
    total, found = 0.0, False
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in names:
                total += s.value
                found = True
    return total if found else None


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}; see its log")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def exit_cpu_seconds(proc: subprocess.Popen[bytes], timeout_s: float = EXIT_TIMEOUT_S) -> float:
    """SIGTERM ``proc``, wait for it to exit (SIGKILL after ``timeout_s``) and return its lifetime CPU."""
    proc.terminate()
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            deadline = float("inf")
        time.sleep(0.05)


@dataclass(frozen=True)
class System:
    """How to run, read and compact one system."""

    name: str
    argv: list[str]
    ready_url: str
    metrics_url: str
    counters: tuple[str, ...]
    data_dir: Path
    uncompacted: Callable[[Path], int]  # bytes of the WAL (and head chunks) under data_dir
    compacted: Callable[[Path], int]  # bytes of the compacted form once compact() and the exit are done
    compact: Callable[[], None]  # forces compaction while the process runs (nothing if its exit does it)


@dataclass
class Result:
    name: str
    window_samples: float
    window_s: float
    window_cpu: float
    rss_delta: int
    samples_at_window_end: float
    uncompacted_bytes: int
    total_samples: float
    total_cpu: float
    compact_s: float
    compacted_bytes: int

    @property
    def rate(self) -> float:
        return self.window_samples / self.window_s

    @property
    def window_cpu_per_million(self) -> float:
        return self.window_cpu / (self.window_samples / 1e6)

    @property
    def total_cpu_per_million(self) -> float:
        return self.total_cpu / (self.total_samples / 1e6)


def _baseline(system: System, pid: int) -> tuple[float, int]:
    """(CPU, RSS) just before the first sample: polled while the counter still reads zero."""
    cpu, rss = cpu_seconds(pid), rss_bytes(pid)
    deadline = time.monotonic() + 60  # Prometheus applies discovered targets only after ~5 s
    while not (counter_sum(system.metrics_url, system.counters) or 0):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{system.name} ingested nothing within 60 s")
        cpu, rss = cpu_seconds(pid), rss_bytes(pid)
        time.sleep(0.1)
    return cpu, rss


def measure(system: System, warmup_s: float, seconds: float, log: Path) -> Result:
    with log.open("wb") as lf:
        proc = subprocess.Popen(system.argv, stdout=lf, stderr=subprocess.STDOUT, cwd=system.data_dir.parent)
        try:
            try:
                wait_ready(system.ready_url, proc)
            except (RuntimeError, TimeoutError):
                print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
            cpu_base, rss_base = _baseline(system, proc.pid)
            time.sleep(warmup_s)  # benchmark warm-up (not a test): let every target be scraped a few times
            c0, t0, s0 = (
                cpu_seconds(proc.pid),
                time.monotonic(),
                counter_sum(system.metrics_url, system.counters),
            )
            time.sleep(seconds)
            c1, t1, s1 = (
                cpu_seconds(proc.pid),
                time.monotonic(),
                counter_sum(system.metrics_url, system.counters),
            )
            rss = rss_bytes(proc.pid)
            if s0 is None or s1 is None:
                raise RuntimeError(f"{system.name}: none of {system.counters} found at {system.metrics_url}")
            uncompacted = system.uncompacted(system.data_dir)
            t_compact = time.monotonic()
            system.compact()
            s_final = counter_sum(system.metrics_url, system.counters) or s1
            cpu_exit = exit_cpu_seconds(proc)
            compact_s = time.monotonic() - t_compact
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(60)
    return Result(
        system.name,
        s1 - s0,
        t1 - t0,
        c1 - c0,
        rss - rss_base,
        s1,
        uncompacted,
        s_final,
        cpu_exit - cpu_base,
        compact_s,
        system.compacted(system.data_dir),
    )


def bench_config(listen_port: int, target_ports: list[int], extra: str = "") -> str:
    """A ``paramedic.yaml`` for a serve that scrapes ``bench/_targets.py``'s exporters every second (the
    in-process benches of one serve: ``ingest_threads.py``, ``gc_pause.py``); ``extra`` is appended."""
    addrs = ", ".join(f'"127.0.0.1:{p}"' for p in target_ports)
    return (
        "server: {listen_port: %d, auth: {anonymous_read: true}}\n"
        "collector:\n  interval_s: 1\n  timeout_s: 1\n  jobs:\n"
        "    - name: bench\n      type: static\n      targets: [%s]\n"
        "metrics_store: {type: embedded, path: data}\n" % (listen_port, addrs)
    ) + extra


def start_logged(argv: list[str], root: Path, url: str) -> subprocess.Popen[bytes]:
    """Start ``argv`` in ``root`` with its output in ``root/log`` and wait until ``url`` answers; on a
    failed start the log's tail goes to stderr before the error."""
    with (root / "log").open("wb") as log:
        proc = subprocess.Popen(argv, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(url, proc)
    except (RuntimeError, TimeoutError):
        print((root / "log").read_text(errors="replace")[-3000:], file=sys.stderr)
        proc.terminate()
        proc.wait(60)
        raise
    return proc


@contextlib.contextmanager
def serve_on_targets(
    series: int, targets: int, prefix: str, child_argv: Callable[[Path], list[str]], extra: str = ""
) -> Iterator[tuple[Path, str, subprocess.Popen[bytes]]]:
    """``targets`` synthetic exporters and one ``child_argv(root)`` serve scraping them (config from
    :func:`bench_config` in a temporary ``root``); yields ``(root, url, serve process)`` once it is ready
    and stops both afterwards."""
    ports = free_ports(targets + 1)
    tp = spawn_targets(series, ports[1:])
    assert tp.stdin is not None
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            root = Path(tmp)
            (root / "paramedic.yaml").write_text(bench_config(ports[0], ports[1:], extra))
            url = f"http://127.0.0.1:{ports[0]}"
            proc = start_logged(child_argv(root), root, url + "/-/ready")
            try:
                yield root, url, proc
            finally:
                proc.terminate()
                proc.wait(60)
    finally:
        tp.stdin.close()
        tp.wait(10)


def spawn_targets(series: int, ports: list[int]) -> subprocess.Popen[bytes]:
    """``bench/_targets.py`` on ``ports`` (``series`` each), returned once it serves; stop it by closing
    its stdin."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "_targets.py"), "--series", str(series), *map(str, ports)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc


def _paramedic(root: Path, port: int, addrs: list[str], interval_s: float, *, fold: bool) -> System:
    """Paramedic as shipped (``fold``: the WAL is folded into DuckDB every 2 M samples or 60 s), or with
    folding put off past the run, so that, like Prometheus, it compacts nothing before the forced end."""
    name = "paramedic" if fold else "paramedic-nofold"
    pdir = root / name
    pdir.mkdir()
    no_fold = "" if fold else ", checkpoint_samples: 1000000000, checkpoint_interval_s: 1000000"
    (pdir / "paramedic.yaml").write_text(
        "server: {listen_port: %d, auth: {anonymous_read: true}}\n"
        "collector:\n  interval_s: %s\n  timeout_s: %s\n  jobs:\n"
        "    - name: bench\n      type: static\n      targets: [%s]\n"
        "metrics_store: {type: embedded, path: data%s}\n"
        % (port, interval_s, interval_s, ", ".join(f'"{a}"' for a in addrs), no_fold)
    )
    return System(
        name,
        [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(pdir / "paramedic.yaml")],
        f"http://127.0.0.1:{port}/-/ready",
        f"http://127.0.0.1:{port}/metrics",
        ("paramedic_scrape_samples_appended_total", "paramedic_scrape_samples_appended"),
        pdir / "data",
        lambda d: dir_bytes(d / "wal"),
        lambda d: sum(f.stat().st_size for f in d.glob("metrics.duckdb*")),
        lambda: None,  # close() folds the WAL into DuckDB on exit
    )


def _prometheus(prom_bin: str, root: Path, port: int, addrs: list[str], interval_s: float) -> System:
    qdir = root / "prometheus"
    (qdir / "data").mkdir(parents=True)
    (qdir / "prometheus.yml").write_text(
        "global: {scrape_interval: %dms, scrape_timeout: %dms}\n"
        "scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [%s]\n"
        % (interval_s * 1000, interval_s * 1000, ", ".join(f'"{a}"' for a in addrs))
    )
    base = f"http://127.0.0.1:{port}"

    def snapshot() -> None:
        resp = httpx.post(f"{base}/api/v1/admin/tsdb/snapshot", params={"skip_head": "false"}, timeout=600)
        resp.raise_for_status()

    return System(
        "prometheus",
        [
            prom_bin,
            f"--config.file={qdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={qdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-admin-api",
        ],
        f"{base}/-/ready",
        f"{base}/metrics",
        ("prometheus_tsdb_head_samples_appended_total",),
        qdir / "data",
        lambda d: dir_bytes(d / "wal") + dir_bytes(d / "chunks_head"),
        lambda d: dir_bytes(d / "snapshots"),
        snapshot,
    )


def report(args: argparse.Namespace, active: int, results: list[Result]) -> None:
    print(
        f"ingest: {args.targets} targets x {args.series} series every {args.interval_s}s "
        f"({active / args.interval_s:,.0f} samples/s offered), window {args.seconds:.0f}s after "
        f"{args.warmup_s:.0f}s warm-up, {os.cpu_count()} cores"
    )
    head = (
        f"{'system':<17}{'samples/s':>11}{'CPU-s/1M window':>17}{'CPU-s/1M compacted':>20}"
        f"{'RSS/series B':>14}{'WAL MB':>9}{'compacted B/sample':>20}{'compaction s':>14}"
    )
    print(head)
    rows = []
    for r in results:
        row = (
            r.rate,
            r.window_cpu_per_million,
            r.total_cpu_per_million,
            r.rss_delta / active,
            r.uncompacted_bytes / 1e6,
            r.compacted_bytes / max(r.total_samples, 1),
            r.compact_s,
        )
        rows.append(row)
        print(
            f"{r.name:<17}{row[0]:>11,.0f}{row[1]:>17.2f}{row[2]:>20.2f}{row[3]:>14,.0f}{row[4]:>9.1f}"
            f"{row[5]:>20.2f}{row[6]:>14.1f}"
        )
    peer = rows[-1] if results and results[-1].name == "prometheus" else None
    for r, row in zip(results, rows, strict=True):
        if peer is None or r.name == "prometheus":
            continue
        ratios = [a / b if b else float("inf") for a, b in zip(row, peer, strict=True)]
        print(
            f"{'ratio P' + r.name[9:] + '/Q':<17}{ratios[0]:>11.2f}{ratios[1]:>17.2f}{ratios[2]:>20.2f}"
            f"{ratios[3]:>14.2f}{ratios[4]:>9.2f}{ratios[5]:>20.2f}{ratios[6]:>14.2f}"
        )
    print(
        "ratios: Paramedic / Prometheus. CPU-s/1M compacted: CPU from just before the first sample to "
        "process exit, forced compaction included, over all samples ingested (lower is better; goal <= 1.0). "
        "WAL MB: at the end of the window (Prometheus: wal/ + chunks_head/, every sample so far; "
        "Paramedic: wal/, only the samples not yet folded into DuckDB)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--interval-s", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup-s", type=float, default=10.0)
    args = ap.parse_args()
    prom_bin = shutil.which("prometheus")
    if prom_bin is None:
        print("prometheus not found: run scripts/install.sh", file=sys.stderr)
        return 2

    ports = free_ports(args.targets + 3)
    target_ports, api_ports, prom_port = ports[:-3], ports[-3:-1], ports[-1]
    addrs = [f"127.0.0.1:{p}" for p in target_ports]
    active = args.targets * args.series
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        root = Path(tmp)
        systems = [
            _paramedic(root, api_ports[0], addrs, args.interval_s, fold=True),
            _paramedic(root, api_ports[1], addrs, args.interval_s, fold=False),
            _prometheus(prom_bin, root, prom_port, addrs, args.interval_s),
        ]
        for system in systems:
            targets = spawn_targets(args.series, target_ports)  # fresh targets: the same counters for both
            try:
                results.append(measure(system, args.warmup_s, args.seconds, root / f"{system.name}.log"))
            finally:
                targets.stdin.close()  # type: ignore[union-attr]
                targets.wait(10)
    report(args, active, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
