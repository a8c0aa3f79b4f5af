"""Local platform benchmark: what the demo's platform costs and how fast its adapter answers.

Prints: platform start time (supervisord + N instances healthy + HAProxy + node exporter), discover() latency
(p50/p99 over --calls calls), scale +1 / -1 time (call returns) and time until the new instance is UP in
HAProxy, restart_instance time, router throughput (sequential keep-alive GETs through HAProxy), and RSS/CPU of
the platform's processes at idle.

    .venv/bin/python bench/local_platform.py [--apps 2] [--instances 3] [--calls 200] [--requests 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from platforms.local import LocalPlatform, LocalPlatformRunner  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_and_cpu(pid: int) -> tuple[int, float]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return rss, (int(fields[11]) + int(fields[12])) / CLK_TCK


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=2)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    names = ["checkout", "catalog", "inventory", "payments", "search", "profile"][: args.apps]
    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        reg = CollectorRegistry()
        runner = LocalPlatformRunner(Path(tmp), registry=reg)
        state = runner.init(dict.fromkeys(names, args.instances))
        t0 = time.perf_counter()
        runner.start()
        print(
            f"start ({args.apps} apps x {args.instances} instances, all UP): {time.perf_counter() - t0:.2f} s"
        )
        try:
            platform = LocalPlatform(Path(tmp), registry=reg)
            lat = []
            for _ in range(args.calls):
                t = time.perf_counter()
                platform.discover()
                lat.append(time.perf_counter() - t)
            lat.sort()
            print(
                f"discover(): p50 {statistics.median(lat) * 1e3:.2f} ms, "
                f"p99 {lat[int(len(lat) * 0.99) - 1] * 1e3:.2f} ms ({args.calls} calls)"
            )
            app = names[0]
            t = time.perf_counter()
            platform.scale(app, args.instances + 1)
            returned = time.perf_counter() - t
            while not all(i.router_status == "UP" for i in platform.instances(app)):
                time.sleep(0.02)
            print(f"scale +1: returns {returned * 1e3:.0f} ms, new instance UP in HAProxy after "
                  f"{time.perf_counter() - t:.2f} s")  # fmt: skip
            t = time.perf_counter()
            platform.scale(app, args.instances)
            print(f"scale -1: {(time.perf_counter() - t) * 1e3:.0f} ms (process stopped, server deleted)")
            t = time.perf_counter()
            platform.restart_instance(app, 0)
            print(f"restart_instance: {(time.perf_counter() - t) * 1e3:.0f} ms (until RUNNING again)")
            with httpx.Client(
                base_url=f"http://127.0.0.1:{state.router_port}", headers={"Host": f"{app}.local"}
            ) as c:
                t = time.perf_counter()
                for _ in range(args.requests):
                    c.get("/api/items")
                dt = time.perf_counter() - t
            print(f"router throughput (1 client, keep-alive): {args.requests / dt:.0f} req/s")
            pids = {c.name: c.popen.pid for c in runner.children}
            for proc in platform.supervisor.processes():
                pids[str(proc["name"])] = int(proc["pid"])
            total_rss = 0
            for name, pid in sorted(pids.items()):
                rss, cpu = rss_and_cpu(pid)
                total_rss += rss
                print(f"  {name:16s} RSS {rss / 2**20:6.1f} MiB  CPU {cpu:5.2f} s")
            print(f"platform RSS total: {total_rss / 2**20:.0f} MiB")
        finally:
            runner.stop()


if __name__ == "__main__":
    main()
