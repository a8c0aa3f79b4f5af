"""Scale benchmark: metrics ingest and log intake with 1, 2 and 3 ``paramedic serve`` replicas, this machine.

    .venv/bin/python bench/scale.py                 # full size (a few minutes on 2 cores)
    .venv/bin/python bench/scale.py --quick         # smoke size (well under a minute of measuring)

1. Ingest: one process of synthetic exporters (bench/_targets.py; its CPU is charged to nobody) serves
   ``targets`` x ``series`` series, scraped every ``interval_s``. Configurations: the embedded store with one
   replica (no cluster), and the shared store — Debian's single-node VictoriaMetrics — with 1, 2 and 3
   replicas joined through etcd, sharding the same targets. Samples counted are
   ``paramedic_store_samples_appended_total`` summed over the replicas (what the store accepted). CPU is every
   process of each replica's process group, of VictoriaMetrics and of etcd, from /proc, counted the same way
   for every configuration (bench/_scale_math.py).
2. Log intake: ``lines`` RFC 5424 lines through the bench's own RELP sender (``connections`` sessions,
   ``window`` frames in flight each) into an HAProxy TCP front (the demo's front_config) over 1, 2 and 3
   replicas. The rate is lines acknowledged per second (Paramedic acks a RELP frame once the line is in its
   spool); afterwards every line is looked up through each replica's search API: lost and duplicated lines
   are printed (must be 0).

The machine has 2 cores shared with other jobs: more replicas cannot add CPU here, so the rows show the
overhead/efficiency of sharding (CPU-seconds per sample or line), not horizontal scaling. Sizing uses the
CPU-seconds per unit: see docs/scaling.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scale_math import Measurement, group_cpu_seconds, parse_rsp, relp_frame
from paramedic.demo._replicas import ReplicaPlan, front_config
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until

REPO = Path(__file__).resolve().parents[1]
SEQ = re.compile(r"seq=(\d+)")
PAGE = os.sysconf("SC_PAGE_SIZE")
# HOOK: the log search backend of the log-intake rows. OpenSearch (wt-opensearch branch) is pending: when it
# lands, run logs_run with the replicas' logs.search pointed at it and label the rows with it.
LOG_SEARCH_BACKEND_HOOK = "embedded (tantivy) per replica"


@dataclass(frozen=True)
class Size:
    targets: int
    series: int
    interval_s: float
    warmup_s: float
    seconds: float
    lines: int
    connections: int
    window: int


FULL = Size(40, 1000, 1.0, 10.0, 30.0, 100_000, 6, 512)
QUICK = Size(8, 200, 1.0, 3.0, 8.0, 6_000, 6, 256)


# ---------------------------------------------------------------- processes


def metric_sum(base: str, names: tuple[str, ...]) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(
        s.value for fam in text_string_to_metric_families(text) for s in fam.samples if s.name in names
    )


def rss(pgids: list[int]) -> int:
    total = 0
    for pid in pgids:
        with suppress(OSError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


@contextmanager
def etcd(work: Path) -> Iterator[tuple[ManagedProcess, str]]:
    client, peer = free_port(), free_port()
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    proc = ManagedProcess(
        "etcd",
        ["etcd", "--name", "bench", "--data-dir", str(work / "etcd"), "--listen-client-urls", url,
         "--advertise-client-urls", url, "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls",
         peer_url, "--initial-cluster", f"bench={peer_url}", "--log-level", "warn"],
        work / "etcd.log",
    )  # fmt: skip
    try:
        wait_http(f"{url}/health", 30, proc)
        yield proc, url
    finally:
        proc.stop()


@contextmanager
def victoria(work: Path) -> Iterator[tuple[ManagedProcess, str]]:
    port = free_port()
    proc = ManagedProcess(
        "victoria-metrics",
        ["victoria-metrics", f"-storageDataPath={work / 'vm'}", f"-httpListenAddr=127.0.0.1:{port}",
         "-retentionPeriod=1", "-search.latencyOffset=0s"],
        work / "vm.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", 30, proc)
        yield proc, url
    finally:
        proc.stop()


@dataclass
class Stack:
    """The processes of one configuration: replicas (their base URLs) and the store's processes."""

    replicas: list[ManagedProcess]
    bases: list[str]
    store: list[ManagedProcess]
    plans: list[ReplicaPlan]


def replica_config(
    plan: ReplicaPlan, store: dict[str, object], extra: dict[str, object]
) -> dict[str, object]:
    cfg: dict[str, object] = {
        "server": {"listen_port": plan.http_port, "auth": {"anonymous_read": True}},
        "metrics_store": store,
        **extra,
    }
    return cfg


def start_stack(stack: ExitStack, work: Path, backend: str, n: int, extra: dict[str, object]) -> Stack:
    store_procs: list[ManagedProcess] = []
    cluster: dict[str, object] | None = None
    if backend == "embedded":
        store: dict[str, object] = {"type": "embedded", "path": "data/metrics"}
    else:
        vm, vm_url = stack.enter_context(victoria(work))
        et, et_url = stack.enter_context(etcd(work))
        store_procs = [vm, et]
        store = {"type": "remote", "write_url": vm_url, "read_url": vm_url}
        cluster = {"etcd_endpoints": [et_url], "lease_ttl_s": 2, "key_prefix": "/bench/"}
    plans = [
        ReplicaPlan(f"r{i + 1}", free_port(), free_port(), free_port(), work / f"r{i + 1}") for i in range(n)
    ]
    procs, bases = [], []
    for plan in plans:
        plan.dir.mkdir(parents=True)
        cfg = replica_config(plan, store, extra_for(plan, extra))
        if cluster is not None:
            cfg["cluster"] = {**cluster, "replica_id": plan.id, "advertise_url": plan.api_url}
        (plan.dir / "paramedic.yaml").write_text(yaml.safe_dump(cfg))
        proc = ManagedProcess(
            plan.id,
            [sys.executable, "-m", "paramedic.cli", "serve", "-c", str(plan.dir / "paramedic.yaml")],
            plan.dir / "serve.log",
            cwd=REPO,
        )
        stack.callback(proc.stop)
        procs.append(proc)
        bases.append(plan.api_url)
    for proc, base in zip(procs, bases, strict=True):
        wait_http(f"{base}/-/ready", 90, proc)
    return Stack(procs, bases, store_procs, plans)


def extra_for(plan: ReplicaPlan, extra: dict[str, object]) -> dict[str, object]:
    """Per-replica log listeners when the configuration has ``logs``."""
    if "logs" not in extra:
        return extra
    return {
        **extra,
        "logs": {
            "relp": {"port": plan.relp_port},
            "syslog_tcp": {"port": plan.syslog_port},
            "syslog_udp": None,
        },
    }


# ---------------------------------------------------------------- ingest


def ingest_run(tmp: Path, backend: str, n: int, addrs: list[str], size: Size) -> Measurement:
    work = tmp / f"ingest-{backend}-{n}"
    collector = {
        "collector": {
            "interval_s": size.interval_s,
            "timeout_s": size.interval_s,
            "jobs": [{"name": "bench", "type": "static", "targets": addrs}],
        }
    }
    appended = ("paramedic_store_samples_appended_total",)
    with ExitStack() as stack:
        st = start_stack(stack, work, backend, n, collector)
        stack.enter_context(diagnose(st))
        if backend != "embedded":
            owned = ("paramedic_cluster_targets_owned",)
            wait_until(
                lambda: (
                    sum(metric_sum(b, owned) for b in st.bases) == len(addrs)
                    and all(metric_sum(b, ("paramedic_cluster_members",)) == n for b in st.bases)
                ),
                90,
                "every target owned by exactly one live replica",
                interval_s=0.5,
            )
        wait_until(
            lambda: all(metric_sum(b, appended) > 0 for b in st.bases), 90, "first samples stored", 0.5
        )
        time.sleep(size.warmup_s)  # benchmark warm-up (not a test): several scrapes of every target
        pg = [p.pid for p in st.replicas]
        sg = [p.pid for p in st.store]
        c0, s0, t0 = group_cpu_seconds(pg), group_cpu_seconds(sg), time.monotonic()
        a0 = sum(metric_sum(b, appended) for b in st.bases)
        own0 = sum(metric_sum(b, ("process_cpu_seconds_total",)) for b in st.bases)
        time.sleep(size.seconds)
        c1, s1, t1 = group_cpu_seconds(pg), group_cpu_seconds(sg), time.monotonic()
        a1 = sum(metric_sum(b, appended) for b in st.bases)
        own = sum(metric_sum(b, ("process_cpu_seconds_total",)) for b in st.bases) - own0
        mem, store_mem = rss(pg), rss(sg)
    # cross-check of the /proc accounting: the replicas' own process_cpu_seconds_total (main processes only)
    print(
        f"  {backend} x{n}: replicas' CPU {c1 - c0:.2f}s from /proc, {own:.2f}s by process_cpu_seconds_total"
    )
    return Measurement(
        "ingest", backend, n, a1 - a0, t1 - t0, c1 - c0, s1 - s0, mem, store_rss_bytes=store_mem
    )


# ---------------------------------------------------------------- log intake


def numbered_lines(token: str, seqs: range) -> Iterator[bytes]:
    ts = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    head = f"<14>1 {ts} cell1 app 42 - - run={token} seq=".encode()
    for i in seqs:
        yield b"%s%d" % (head, i)


class RelpSender:
    """One RELP session: sends its lines with at most ``window`` unacknowledged, counts ``200 OK`` acks."""

    def __init__(self, port: int, lines: list[bytes], window: int) -> None:
        self.port, self.lines, self.window = port, lines, window
        self.acked = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._run()
        except (OSError, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(relp_frame(1, b"open", b"relp_version=0\nrelp_software=bench,1\ncommands=syslog"))
            opened, buf = parse_rsp(b"")
            while not opened:
                opened, buf = self._read_some(sock, buf)
            body = opened[0][1]
            if not body.startswith(b"200"):
                raise ValueError(f"open refused: {body[:80]!r}")
            txnr, sent = 1, 0
            while self.acked < len(self.lines):
                batch = []
                while sent < len(self.lines) and sent - self.acked < self.window:
                    txnr += 1
                    batch.append(relp_frame(txnr, b"syslog", self.lines[sent]))
                    sent += 1
                if batch:
                    sock.sendall(b"".join(batch))
                rsps, buf = self._read_some(sock, buf)
                for _, data in rsps:
                    if not data.startswith(b"200"):
                        raise ValueError(f"not acknowledged: {data[:80]!r}")
                    self.acked += 1
            sock.sendall(relp_frame(txnr + 1, b"close"))

    @staticmethod
    def _read_some(sock: socket.socket, buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ValueError("connection closed before every line was acknowledged")
        return parse_rsp(buf + chunk)


def send_all(port: int, token: str, size: Size) -> tuple[float, int, list[str]]:
    """Every line over ``size.connections`` RELP sessions; (seconds, lines acknowledged, errors)."""
    per = -(-size.lines // size.connections)
    senders = [
        RelpSender(port, list(numbered_lines(token, range(i, min(i + per, size.lines)))), size.window)
        for i in range(0, size.lines, per)
    ]
    threads = [threading.Thread(target=s.run) for s in senders]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    return dt, sum(s.acked for s in senders), [s.error for s in senders if s.error]


def search_total(base: str, token: str) -> int:
    body = httpx.get(f"{base}/api/v1/logs/search", params={"q": token, "limit": 1}, timeout=30).json()
    return int(body["data"]["total"])


def seqs_of(base: str, token: str) -> Counter[int]:
    got: Counter[int] = Counter()
    cursor: str | None = None
    with httpx.Client(base_url=base, timeout=60) as client:
        while True:
            params = {"q": token, "limit": "10000"} | ({"cursor": cursor} if cursor else {})
            data = client.get("/api/v1/logs/search", params=params).json()["data"]
            for hit in data["hits"]:
                m = SEQ.search(hit["message"])
                if m:
                    got[int(m.group(1))] += 1
            cursor = data["next_cursor"]
            if cursor is None:
                return got


def logs_run(tmp: Path, n: int, size: Size, haproxy: str, exact: bool) -> LogRow:
    work = tmp / f"logs-{n}"
    token = f"scale{random.randrange(16**8):08x}"
    with ExitStack() as stack:
        st = start_stack(stack, work, "victoria-metrics", n, {"logs": {}})
        relp_port, syslog_port = free_port(), free_port()
        (work / "front.cfg").write_text(front_config(relp_port, syslog_port, st.plans))
        front = ManagedProcess("front", [haproxy, "-db", "-f", str(work / "front.cfg")], work / "front.log")
        stack.callback(front.stop)
        wait_until(lambda: _accepts(relp_port), 30, "HAProxy front listening", 0.1)
        pg = [p.pid for p in st.replicas]
        c0, t0 = group_cpu_seconds(pg), time.perf_counter()
        dt, acked, errors = send_all(relp_port, token, size)
        if errors:
            print(f"  sender errors ({n} replicas): {errors[:3]}", file=sys.stderr)
        with diagnose(st):
            wait_until(
                lambda: sum(search_total(b, token) for b in st.bases) >= acked,
                300,
                "acked lines searchable",
                0.2,
            )
        # CPU until every line is searchable: receive, spool, parse, enrich, pattern, index (polling included)
        c1, t1 = group_cpu_seconds(pg), time.perf_counter()
        split = [search_total(b, token) for b in st.bases]
        if exact:  # every seq= looked up (paging 10k hits at a time: slow on a loaded machine)
            got: Counter[int] = sum((seqs_of(b, token) for b in st.bases), Counter())
            lost, dups = len(set(range(size.lines)) - set(got)), sum(got.values()) - len(got)
        else:  # counts only: the sender never resends, so a shortfall is lost lines, an excess duplicates
            lost, dups = max(size.lines - sum(split), 0), max(sum(split) - size.lines, 0)
        mem = rss(pg)
    m = Measurement("log intake", LOG_SEARCH_BACKEND_HOOK, n, acked, dt, c1 - c0, 0.0, mem, lost, dups)
    return LogRow(m, t1 - t0, split, exact)


@dataclass(frozen=True)
class LogRow:
    m: Measurement
    searchable_s: float  # from the first line sent until every acknowledged line was searchable
    split: list[int]
    exact: bool  # lost/dups from every seq= (True) or from the counts (False)


@contextmanager
def diagnose(st: Stack) -> Iterator[None]:
    """On failure, say which replica exited and show the end of its log."""
    try:
        yield
    except Exception:
        for p in st.replicas + st.store:
            if p.popen.poll() is not None:
                print(f"{p.name} exited {p.popen.returncode}:\n{p.log_tail()}", file=sys.stderr)
        raise


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- report


def print_ingest(rows: list[Measurement], size: Size) -> None:
    offered = size.targets * size.series / size.interval_s
    print(
        f"\ningest: {size.targets} exporters x {size.series} series every {size.interval_s:g}s "
        f"({offered:,.0f} samples/s offered), {size.seconds:g}s measured after {size.warmup_s:g}s warm-up"
    )
    print(
        f"{'store':<18}{'replicas':>8}{'samples/s':>12}{'cores busy':>11}{'samples/CPU-s':>14}"
        f"{'us/sample P':>12}{'us/sample store':>16}{'RSS MiB P':>10}{'RSS MiB store':>14}"
    )
    for r in rows:
        print(
            f"{r.backend:<18}{r.replicas:>8}{r.rate:>12,.0f}{r.cores_busy:>11.2f}{r.per_cpu_second:>14,.0f}"
            f"{r.paramedic_us_per_unit:>12.1f}{r.store_us_per_unit:>16.1f}{r.rss_bytes / 2**20:>10.0f}"
            f"{r.store_rss_bytes / 2**20:>14.0f}"
        )


def print_logs(rows: list[LogRow], size: Size) -> None:
    print(
        f"\nlog intake: {size.lines:,} RFC 5424 lines, {size.connections} RELP sessions "
        f"(window {size.window}) "
        "-> HAProxy TCP front -> replicas; search backend: each replica's embedded index "
        "[OpenSearch: pending wt-opensearch]"
    )
    print(
        f"{'replicas':>8}{'acked lines/s':>15}{'searchable lines/s':>20}{'lines/CPU-s':>13}{'us/line P':>11}"
        f"{'lost':>6}{'dups':>6}  lines per replica"
    )
    for row in rows:
        r = row.m
        print(
            f"{r.replicas:>8}{r.rate:>15,.0f}{r.units / row.searchable_s:>20,.0f}{r.per_cpu_second:>13,.0f}"
            f"{r.paramedic_us_per_unit:>11.1f}{r.lost:>6}{r.duplicated:>6}  {row.split}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke size")
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-logs", action="store_true")
    ap.add_argument("--targets", type=int, help="override the size's exporters")
    ap.add_argument("--series", type=int, help="override the size's series per exporter")
    ap.add_argument("--lines", type=int, help="override the size's log lines")
    ap.add_argument("--exact", action="store_true", help="look up every seq= even above 20,000 lines (slow)")
    args = ap.parse_args()
    size = QUICK if args.quick else FULL
    size = replace(
        size,
        targets=args.targets or size.targets,
        series=args.series or size.series,
        lines=args.lines or size.lines,
    )
    missing = [b for b in ("victoria-metrics", "etcd", "haproxy") if shutil.which(b) is None]
    if missing:
        print(f"not found: {missing}: run scripts/install.sh", file=sys.stderr)
        return 2
    print(f"{os.cpu_count()} cores; load average at start {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as d:
        tmp = Path(d)
        if not args.skip_ingest:
            print_ingest(run_ingest(tmp, size, args.replicas), size)
        if not args.skip_logs:
            haproxy = shutil.which("haproxy") or "haproxy"
            exact = args.exact or size.lines <= 20_000
            print_logs([logs_run(tmp, n, size, haproxy, exact) for n in args.replicas], size)
    print(f"\nload average at end {os.getloadavg()}")
    print(
        "2 cores shared with other jobs: more replicas cannot add CPU here; the rows show the overhead of "
        "sharding (CPU per unit), not horizontal scaling."
    )
    return 0


def run_ingest(tmp: Path, size: Size, replicas: list[int]) -> list[Measurement]:
    ports = [free_port() for _ in range(size.targets)]
    targets = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "_targets.py"), "--series", str(size.series), *map(str, ports)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )  # exits when its stdin closes
    assert targets.stdin is not None and targets.stdout is not None
    try:
        targets.stdout.readline()  # "ready"
        addrs = [f"127.0.0.1:{p}" for p in ports]
        rows = [ingest_run(tmp, "embedded", 1, addrs, size)]
        rows += [ingest_run(tmp, "victoria-metrics", n, addrs, size) for n in replicas]
    finally:
        targets.stdin.close()
        targets.wait(10)
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
