"""Time to searchable of single lines at a trickle, through the full ``paramedic serve`` path.

    .venv/bin/python bench/trickle.py [--probes 30] [--gap-s 0.1] [--logs-extra "consumer_linger_s: 0.02"]

The same private rsyslog forwarder as ``bench/logs.py`` (imtcp -> omrelp) sends one line at a time; each line
carries its own token, and ``/api/v1/logs/search`` is polled every ``--poll-s`` until it counts the line: the
time from the line's send to that answer is its latency (the poll's own round trip included, on every
setting alike). The next line follows ``--gap-s`` later, so the consumer is idle between lines (a trickle).
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.logs import serve
from tests.log_pipeline.rsyslog import Rsyslog, relp_forwarder_config
from tests.support.servers import free_port
from tests.test_logs_e2e import lines, total


def probe(sock: socket.socket, base: str, token: str, poll_s: float, timeout_s: float = 30.0) -> float:
    """Seconds from sending one line until the search counts it."""
    t0 = time.perf_counter()
    sock.sendall(lines(token, 0, 1))
    deadline = time.monotonic() + timeout_s
    while total(base, token) < 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"line {token} not searchable within {timeout_s} s")
        time.sleep(poll_s)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--probes", type=int, default=30)
    ap.add_argument("--gap-s", type=float, default=0.1)
    ap.add_argument("--poll-s", type=float, default=0.002)
    ap.add_argument("--logs-extra", default="", help='as bench/logs.py: ";"-separated lines under logs:')
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-trickle-") as d:
        work = Path(d)
        relp_port, in_port = free_port(), free_port()
        proc, base = serve(work / "paramedic", relp_port, True, a.logs_extra)
        fwd = Rsyslog("fwd", work / "fwd", relp_forwarder_config(work / "fwd", in_port, relp_port, 16384))
        run = f"trickle{random.randrange(16**8):08x}"
        try:
            fwd.wait_port(in_port)
            with socket.create_connection(("127.0.0.1", in_port)) as sock:
                probe(sock, base, f"{run}w", a.poll_s)  # warm-up: the connection, the first commit
                got = []
                for i in range(a.probes):
                    time.sleep(a.gap_s)  # the bench's pacing between lines, not a wait for a result
                    got.append(probe(sock, base, f"{run}p{i}", a.poll_s))
        finally:
            fwd.stop()
            proc.stop()
    got.sort()
    p90 = got[min(len(got) - 1, int(0.9 * len(got)))]
    print(
        f"trickle {a.probes} lines, gap {a.gap_s} s, logs_extra {a.logs_extra!r}: "
        f"p50 {statistics.median(got) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms, max {got[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
