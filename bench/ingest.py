"""Ingest benchmark: Paramedic and Prometheus scrape the same synthetic targets, one after the other.

Prints, for each system: samples/s ingested, CPU-seconds per million samples, RSS per active series, bytes per
sample on disk (everything under its data dir after the run: WAL + blocks / DuckDB), and the ratios
Paramedic / Prometheus (lower is better for CPU, RSS and bytes; higher is better for samples/s).

    .venv/bin/python bench/ingest.py [--targets 50] [--series 2000] [--interval-s 1] [--seconds 60]

Needs `prometheus` (Debian's 2.42 package; scripts/install.sh installs it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


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
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


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
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; see its log")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


@dataclass
class Result:
    name: str
    samples: float
    seconds: float
    cpu_s: float
    rss: int
    disk: int
    total_samples: float

    @property
    def rate(self) -> float:
        return self.samples / self.seconds

    @property
    def cpu_per_million(self) -> float:
        return self.cpu_s / (self.samples / 1e6)


def measure(
    name: str,
    argv: list[str],
    ready_url: str,
    metrics_url: str,
    counters: tuple[str, ...],
    data_dir: Path,
    warmup_s: float,
    seconds: float,
    series: int,
    log: Path,
) -> Result:
    with log.open("wb") as lf:
        proc = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, cwd=data_dir.parent)
        try:
            try:
                wait_ready(ready_url, proc)
            except (RuntimeError, TimeoutError):
                print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
            deadline = time.monotonic() + 60  # Prometheus applies discovered targets only after ~5 s
            while not (counter_sum(metrics_url, counters) or 0) and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(warmup_s)  # benchmark warm-up (not a test): let every target be scraped a few times
            c0, t0, s0 = cpu_seconds(proc.pid), time.monotonic(), counter_sum(metrics_url, counters)
            time.sleep(seconds)
            c1, t1, s1 = cpu_seconds(proc.pid), time.monotonic(), counter_sum(metrics_url, counters)
            rss = rss_bytes(proc.pid)
            if s0 is None or s1 is None:
                raise RuntimeError(f"{name}: none of {counters} found at {metrics_url}")
        finally:
            proc.terminate()
            proc.wait(60)
    return Result(name, s1 - s0, t1 - t0, c1 - c0, rss, dir_bytes(data_dir), s1)


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

    ports = free_ports(args.targets + 2)
    target_ports, api_port, prom_port = ports[:-2], ports[-2], ports[-1]
    targets = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench" / "_targets.py"),
            "--series",
            str(args.series),
            *map(str, target_ports),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert targets.stdout is not None
    targets.stdout.readline()
    addrs = [f"127.0.0.1:{p}" for p in target_ports]
    active = args.targets * args.series
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            root = Path(tmp)
            # --- Paramedic
            pdir = root / "paramedic"
            pdir.mkdir()
            (pdir / "paramedic.yaml").write_text(
                "server: {listen_port: %d, auth: {anonymous_read: true}}\n"
                "collector:\n  interval_s: %s\n  timeout_s: %s\n  jobs:\n"
                "    - name: bench\n      type: static\n      targets: [%s]\n"
                "metrics_store: {type: embedded, path: data}\n"
                % (api_port, args.interval_s, args.interval_s, ", ".join(f'"{a}"' for a in addrs))
            )
            results.append(
                measure(
                    "paramedic",
                    [
                        sys.executable,
                        "-m",
                        "paramedic.cli",
                        "serve",
                        "--config",
                        str(pdir / "paramedic.yaml"),
                    ],
                    f"http://127.0.0.1:{api_port}/-/ready",
                    f"http://127.0.0.1:{api_port}/metrics",
                    ("paramedic_scrape_samples_appended_total", "paramedic_scrape_samples_appended"),
                    pdir / "data",
                    args.warmup_s,
                    args.seconds,
                    active,
                    root / "paramedic.log",
                )
            )
            # --- Prometheus
            qdir = root / "prometheus"
            (qdir / "data").mkdir(parents=True)
            (qdir / "prometheus.yml").write_text(
                "global: {scrape_interval: %dms, scrape_timeout: %dms}\n"
                "scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [%s]\n"
                % (args.interval_s * 1000, args.interval_s * 1000, ", ".join(f'"{a}"' for a in addrs))
            )
            results.append(
                measure(
                    "prometheus",
                    [
                        prom_bin,
                        f"--config.file={qdir / 'prometheus.yml'}",
                        f"--storage.tsdb.path={qdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{prom_port}",
                    ],
                    f"http://127.0.0.1:{prom_port}/-/ready",
                    f"http://127.0.0.1:{prom_port}/metrics",
                    ("prometheus_tsdb_head_samples_appended_total",),
                    qdir / "data",
                    args.warmup_s,
                    args.seconds,
                    active,
                    root / "prometheus.log",
                )
            )
    finally:
        targets.stdin.close()  # type: ignore[union-attr]
        targets.wait(10)

    print(
        f"ingest: {args.targets} targets x {args.series} series every {args.interval_s}s "
        f"({active / args.interval_s:,.0f} samples/s offered), measured {args.seconds:.0f}s after "
        f"{args.warmup_s:.0f}s warm-up, {os.cpu_count()} cores"
    )
    print(
        f"{'system':<12}{'samples/s':>14}{'CPU-s/1M samples':>18}{'RSS/series (B)':>16}{'disk B/sample':>15}"
    )
    for r in results:
        print(
            f"{r.name:<12}{r.rate:>14,.0f}{r.cpu_per_million:>18.2f}{r.rss / active:>16,.0f}"
            f"{r.disk / max(r.total_samples, 1):>15.2f}"
        )
    if len(results) == 2:
        p, q = results
        print(
            f"{'ratio P/Q':<12}{p.rate / q.rate:>14.2f}{p.cpu_per_million / q.cpu_per_million:>18.2f}"
            f"{p.rss / q.rss:>16.2f}"
            f"{(p.disk / max(p.total_samples, 1)) / (q.disk / max(q.total_samples, 1)):>15.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
