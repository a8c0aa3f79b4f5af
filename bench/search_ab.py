"""Two ``paramedic serve`` builds side by side on copies of one 1M-line index (issue 18's search row): the
two-term search over HTTP alternated between them request by request, ``grep`` in the same rounds, and the
CPU each side's server process and search workers spend per request (from ``/proc``: immune to the other load
on a shared machine, unlike wall time).

A side is ``LABEL=PYTHON`` or ``LABEL=PYTHON:REPO`` (default repo: this checkout): its server runs as
``PYTHON -m paramedic.cli serve`` from ``REPO``, so an old commit exported with ``git archive``, or another
virtualenv (one with uvloop, say), is measured against this one under the same load.

.venv/bin/python bench/search_path.py --build /tmp/sp --runs 3        # the index, once (~20-60 s)
.venv/bin/python bench/search_ab.py --data /tmp/sp --side old=.venv/bin/python:/tmp/old \\
    --side new=/tmp/venv-http/bin/python --rounds 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import ManagedProcess, free_port, wait_http

REPO = Path(__file__).resolve().parents[1]
QUERY = "timeout AND upstream"


def _threads_cpu_s(pid: int) -> float:
    """CPU seconds so far of the live threads of ``pid``, in nanoseconds' resolution (``schedstat``: the
    10 ms ticks of ``/proc/<pid>/stat`` would need thousands of requests per figure)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(task.read_text().split()[0])
        except OSError:  # exited meanwhile
            continue
    return total / 1e9


def _loop_cpu_s(pid: int) -> float:
    """CPU seconds so far of ``pid``'s main thread: uvicorn's event loop (HTTP parsing, middleware, routing,
    the handlers' async parts), where the event loop's own cost shows without the other threads' noise."""
    return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0]) / 1e9


def _cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds so far of ``pid``'s threads and of its children's (the search workers, the index child)."""
    kids = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = stat.read_text().rsplit(")", 1)[1].split()[1]
        except OSError:  # exited meanwhile
            continue
        if parent == str(pid):
            kids += _threads_cpu_s(int(stat.parent.name))
    return _threads_cpu_s(pid), kids


class Side:
    """One server build on its own copy of the index."""

    def __init__(self, label: str, python: str, repo: Path, data: Path, tmp: Path) -> None:
        self.label = label
        work = tmp / label
        shutil.copytree(data / "data", work / "data")
        port = free_port()
        cfg = work / "paramedic.yaml"
        cfg.write_text(
            f"server: {{listen_port: {port}, auth: {{anonymous_read: true}}}}\n"
            "metrics_store: {type: embedded, path: data/metrics}\n"
            "logs:\n  relp: {port: 0}\n  syslog_tcp: null\n  syslog_udp: null\n"
            "  search: {type: embedded, path: data/logs/search, index_process: true}\n"
        )
        self.proc = ManagedProcess(
            f"paramedic-{label}",
            [python, "-m", "paramedic.cli", "serve", "-c", str(cfg)],
            work / "p.log",
            cwd=repo,
            env={"PYTHONPATH": str(repo)},
        )
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/-/ready", 60, self.proc)
        self.client = httpx.Client(base_url=base, timeout=60)
        self.wall: list[float] = []
        self.cpu: list[tuple[float, float, float]] = []  # per request: server, its loop thread, workers
        self.gap_cpu: list[tuple[float, float, float]] = []  # the same for each timed (after-gap) search
        self.client_cpu: list[float] = []  # this client's CPU for each timed search (the socket's other end)
        self.client_block: list[float] = []  # and per request of each back-to-back block
        self.kids: list[int] = []

    def search(self) -> int:
        response = self.client.get("/api/v1/logs/search", params={"q": QUERY, "limit": 100})
        response.raise_for_status()
        total: int = response.json()["data"]["total"]
        return total

    def find_kids(self) -> None:
        """The server's children now (the search workers, the index child): :meth:`timed` reads only
        theirs, not all of ``/proc``, between a gap and its search."""
        self.kids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = stat.read_text().rsplit(")", 1)[1].split()[1]
            except OSError:
                continue
            if parent == str(self.proc.pid):
                self.kids.append(int(stat.parent.name))

    def _snap(self) -> tuple[float, float, float]:
        pid = self.proc.pid
        return _threads_cpu_s(pid), _loop_cpu_s(pid), sum(_threads_cpu_s(k) for k in self.kids)

    def timed(self) -> None:
        """One search right after the other side's and a ``grep`` (an idle gap for this server), timed, and
        its CPU (server, loop thread, workers) from schedstat around it."""
        before = self._snap()
        c, t = time.process_time(), time.perf_counter()
        self.search()
        self.wall.append(time.perf_counter() - t)
        self.client_cpu.append(time.process_time() - c)
        after = self._snap()
        self.gap_cpu.append((after[0] - before[0], after[1] - before[1], after[2] - before[2]))

    def cpu_block(self, n: int) -> None:
        (own0, kids0), loop0 = _cpu_s(self.proc.pid), _loop_cpu_s(self.proc.pid)
        c = time.process_time()
        for _ in range(n):
            self.search()
        self.client_block.append((time.process_time() - c) / n)
        (own, kids), loop = _cpu_s(self.proc.pid), _loop_cpu_s(self.proc.pid)
        self.cpu.append(((own - own0) / n, (loop - loop0) / n, (kids - kids0) / n))

    def close(self) -> None:
        self.client.close()
        self.proc.stop()


def _side(spec: str, data: Path, tmp: Path) -> Side:
    label, _, rest = spec.partition("=")
    python, _, repo = rest.partition(":")
    return Side(label, python, Path(repo) if repo else REPO, data, tmp)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True, help="a directory built by bench/search_path.py")
    ap.add_argument("--side", action="append", required=True, help="LABEL=PYTHON[:REPO], twice")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=21, help="timed searches per side per round")
    ap.add_argument("--cpu-runs", type=int, default=200, help="searches per side per round for the CPU")
    a = ap.parse_args()
    grep = ["sh", "-c", f"grep timeout {a.data / 'logs.txt'} | grep -c upstream"]
    with tempfile.TemporaryDirectory(prefix="search-ab-") as d:
        sides = [_side(spec, a.data, Path(d)) for spec in a.side]
        try:
            expected = int(subprocess.run(grep, capture_output=True, text=True, check=True).stdout)
            for side in sides:
                got = side.search()
                verdict = "equal" if got == expected else "MISMATCH"
                print(f"{side.label}: total {got:,} vs grep -c {expected:,}: {verdict}")
            grep_wall: list[float] = []
            for r in range(a.rounds):
                order = sides if r % 2 == 0 else sides[::-1]
                for side in sides:
                    side.find_kids()
                for _ in range(a.runs):  # request by request: load drift hits both sides alike
                    for side in order:
                        side.timed()
                    t = time.perf_counter()
                    subprocess.run(grep, capture_output=True, check=False)
                    grep_wall.append(time.perf_counter() - t)
                for side in order:
                    side.cpu_block(a.cpu_runs)
            g = statistics.median(grep_wall)
            print(f"grep -c p50 {g * 1e3:.1f} ms over {len(grep_wall)} runs")
            for side in sides:
                w = statistics.median(side.wall)
                per_round = [
                    statistics.median(side.wall[i * a.runs : (i + 1) * a.runs]) * 1e3 for i in range(a.rounds)
                ]
                own = [c[0] * 1e3 for c in side.cpu]
                loop = [c[1] * 1e3 for c in side.cpu]
                kids = [c[2] * 1e3 for c in side.cpu]
                print(
                    f"{side.label}: HTTP p50 {w * 1e3:.2f} ms ({g / w:.1f}x grep); per round "
                    + ", ".join(f"{x:.2f}" for x in per_round)
                    + "; CPU per request, server "
                    + ", ".join(f"{x:.3f}" for x in own)
                    + " ms (its loop thread "
                    + ", ".join(f"{x:.3f}" for x in loop)
                    + f" ms, median {statistics.median(loop):.3f}), workers "
                    + ", ".join(f"{x:.3f}" for x in kids)
                    + f" ms (medians {statistics.median(own):.3f} / {statistics.median(kids):.3f})"
                )
                gap = [[c[i] * 1e3 for c in side.gap_cpu] for i in range(3)]
                print(
                    f"{side.label}: after a gap (the timed searches), CPU per search p50: server "
                    f"{statistics.median(gap[0]):.3f} ms (loop thread {statistics.median(gap[1]):.3f}), "
                    f"workers {statistics.median(gap[2]):.3f} ms; server + workers "
                    f"{statistics.median(a + b for a, b in zip(gap[0], gap[2], strict=True)):.3f} ms; "
                    f"client {statistics.median(side.client_cpu) * 1e3:.3f} ms (back to back "
                    + ", ".join(f"{x * 1e3:.3f}" for x in side.client_block)
                    + " ms)"
                )
        finally:
            for side in sides:
                side.close()


if __name__ == "__main__":
    main()
