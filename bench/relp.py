"""rsyslog -> RELP -> Paramedic receivers+spool, beside rsyslog -> RELP -> rsyslog imrelp -> file (ceiling).

    .venv/bin/python bench/relp.py [--messages 100000] [--default-window-messages 20000]

Both runs feed the same numbered RFC 5424 lines into a private rsyslog (imtcp -> omrelp) and time from the
first line fed until the last is in the spool / the file; omrelp windowSize 16384 and omrelp's default window.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.log_pipeline.rsyslog import Rsyslog, feed_lines, relp_forwarder_config, relp_sink_config
from tests.log_pipeline.test_rsyslog_relp import start_receiver
from tests.support.servers import free_port

_HDR = struct.Struct("<IIQI")
_CLK_TCK = os.sysconf("SC_CLK_TCK")
POLL_S = 0.05  # both sides' "done" is polled at this interval, from the bench process


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) so far of process ``pid`` (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def spool_count(spool: Path) -> int:
    """Messages in complete records (headers only; no decoding)."""
    n = 0
    for seg in sorted(spool.glob("*.seg")):
        data = seg.read_bytes()
        pos = 0
        while len(data) - pos >= _HDR.size:
            length, _, _, count = _HDR.unpack_from(data, pos)
            if pos + 8 + length > len(data):
                break
            n += count
            pos += 8 + length
    return n


def file_count(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def run(tmp: Path, n: int, window: int | None, target: str, timeout_s: float) -> float:
    return run_measured(tmp, n, window, target, timeout_s)[0]


def run_measured(
    tmp: Path, n: int, window: int | None, target: str, timeout_s: float
) -> tuple[float, float, float]:
    """(messages/s, CPU seconds of the receiving rsyslog (or 0.0 for the in-process receiver), CPU seconds
    of the forwarding rsyslog), from the first line fed until the last is in the file / spool."""
    relp_port, in_port = free_port(), free_port()
    sink_pid = 0
    work = tmp / f"{target}-{window}"
    work.mkdir()
    if target == "paramedic":
        server = start_receiver(work, relp_port, 0)
        done = lambda: spool_count(work / "spool")  # noqa: E731
        stop = server.stop
    else:
        out = work / "out.log"
        sink = Rsyslog("sink", work / "sink", relp_sink_config(work / "sink", relp_port, out))
        sink.wait_port(relp_port)
        sink_pid = sink.proc.pid
        done = lambda: file_count(out)  # noqa: E731
        stop = sink.stop
    fwd = Rsyslog("fwd", work / "fwd", relp_forwarder_config(work / "fwd", in_port, relp_port, window))
    try:
        fwd.wait_port(in_port)
        cpu0 = proc_cpu_s(sink_pid) if sink_pid else 0.0, proc_cpu_s(fwd.proc.pid)
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", in_port)) as sock:
            feed_lines(sock, 0, n)
        deadline = time.monotonic() + timeout_s
        got = 0
        while time.monotonic() < deadline:
            got = done()
            if got >= n:
                break
            time.sleep(POLL_S)
        dt = time.perf_counter() - t0
        sink_cpu = proc_cpu_s(sink_pid) - cpu0[0] if sink_pid else 0.0
        return got / dt, sink_cpu, proc_cpu_s(fwd.proc.pid) - cpu0[1]
    finally:
        fwd.stop()
        stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--default-window-messages", type=int, default=20_000)
    ap.add_argument("--timeout-s", type=float, default=120)
    a = ap.parse_args()
    print(
        f"{'omrelp window':>14} {'messages':>9} {'rsyslog imrelp->file':>21} "
        f"{'paramedic spool':>16} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-relp-") as d:
        for window, n in ((16384, a.messages), (None, a.default_window_messages)):
            ceiling = run(Path(d), n, window, "rsyslog", a.timeout_s)
            ours = run(Path(d), n, window, "paramedic", a.timeout_s)
            label = str(window) if window else "default"
            print(f"{label:>14} {n:>9} {ceiling:>15,.0f} msg/s {ours:>10,.0f} msg/s {ours / ceiling:>6.2f}")


if __name__ == "__main__":
    main()
